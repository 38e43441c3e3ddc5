# The guide's mmap_write_slice.py in Python 3, on mmapfile.
import contextlib
import shutil

import mmapfile as mmap

# Copy the example file
shutil.copyfile('lorem.txt', 'lorem_copy.txt')

word = b'consectetuer'
reversed = word[::-1]
print('Looking for    :', word.decode())
print('Replacing with :', reversed.decode())

with open('lorem_copy.txt', 'r+') as f:
    with contextlib.closing(mmap.mmap(f.fileno(), 0)) as m:
        print('Before:', m.readline().rstrip().decode())
        m.seek(0)  # rewind

        loc = m.find(word)
        m[loc:loc + len(word)] = reversed
        m.flush()

        m.seek(0)  # rewind
        print('After :', m.readline().rstrip().decode())
