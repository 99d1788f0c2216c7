"""
An open() gate for tests, on Linux's fanotify permission events (needs CAP_SYS_ADMIN): an open of a gated file blocks
in the kernel until this process allows it. Protocol, one line each way:
  stdin  "gate PATH"  -> stdout "gated PATH"   (opens of PATH now wait)
  stdin  "allow PATH" -> opens of PATH waiting now, and every later one, go ahead
  stdout "open PATH"  (an open of PATH is waiting)
"""
import ctypes, os, select, struct, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]
FAN_CLASS_CONTENT, FAN_CLOEXEC, FAN_OPEN_PERM, FAN_MARK_ADD, FAN_ALLOW, AT_FDCWD = 0x4, 0x1, 0x10000, 0x1, 0x1, -100
META = struct.Struct('IBBHQii')  # struct fanotify_event_metadata

fan = libc.fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, os.O_RDONLY)
if fan < 0:
    sys.exit('fanotify_init: ' + os.strerror(ctypes.get_errno()))
waiting, allowed, pending = {}, set(), b''

def allow(efd):
    os.write(fan, struct.pack('iI', efd, FAN_ALLOW))
    os.close(efd)

print('ready', flush=True)
while True:
    ready, _, _ = select.select([fan, 0], [], [])
    if fan in ready:
        buf, off = os.read(fan, 4096), 0
        while off < len(buf):
            length, _, _, _, _, efd, _ = META.unpack_from(buf, off)
            off += length
            path = os.readlink('/proc/self/fd/%d' % efd)
            if path in allowed:
                allow(efd)
            else:
                waiting.setdefault(path, []).append(efd)
                print('open ' + path, flush=True)
    if 0 in ready:
        chunk = os.read(0, 4096)  # unbuffered: select() must see every line that is not handled yet
        if not chunk:
            break  # closing the fanotify descriptor lets every waiting open through
        pending += chunk
        while b'\n' in pending:
            line, pending = pending.split(b'\n', 1)
            cmd, path = line.decode().split(' ', 1)
            if cmd == 'gate':
                if libc.fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, path.encode()) < 0:
                    sys.exit('fanotify_mark %s: %s' % (path, os.strerror(ctypes.get_errno())))
                print('gated ' + path, flush=True)
            elif cmd == 'allow':
                allowed.add(path)
                for efd in waiting.pop(path, []):
                    allow(efd)
