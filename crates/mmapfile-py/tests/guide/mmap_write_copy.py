# The guide's mmap_write_copy.py in Python 3, on mmapfile.
import contextlib
import shutil

import mmapfile as mmap

# Copy the example file
shutil.copyfile('lorem.txt', 'lorem_copy.txt')

word = b'consectetuer'
reversed = word[::-1]

with open('lorem_copy.txt', 'r+') as f:
    with contextlib.closing(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)) as m:
        print('Memory Before:', m.readline().rstrip().decode())
        print('File Before  :', f.readline().rstrip())
        print()

        m.seek(0)  # rewind
        loc = m.find(word)
        m[loc:loc + len(word)] = reversed

        m.seek(0)  # rewind
        print('Memory After :', m.readline().rstrip().decode())

        f.seek(0)
        print('File After   :', f.readline().rstrip())
