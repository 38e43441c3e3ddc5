# The guide's mmap_read.py in Python 3, on mmapfile.
import contextlib

import mmapfile as mmap

with open('lorem.txt', 'r') as f:
    with contextlib.closing(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)) as m:
        print('First 10 bytes via read :', m.read(10).decode())
        print('First 10 bytes via slice:', m[:10].decode())
        print('2nd   10 bytes via read :', m.read(10).decode())
