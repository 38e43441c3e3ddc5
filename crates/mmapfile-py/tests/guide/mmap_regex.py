# The guide's mmap_regex.py in Python 3, on mmapfile: `re` works on the map's buffer.
import contextlib
import re

import mmapfile as mmap

pattern = re.compile(rb'(\.\W+)?([^.]?nulla[^.]*?\.)',
                     re.DOTALL | re.IGNORECASE | re.MULTILINE)

with open('lorem.txt', 'r') as f:
    with contextlib.closing(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)) as m:
        for match in pattern.findall(m):
            print(match[1].replace(b'\n', b' ').decode())
