package layer

import (
	"os"

	"golang.org/x/sys/unix"
)

// growPipe asks for the pipe f is an end of to hold pipeSize bytes. It
// is best effort: a smaller pipe costs only speed.
func growPipe(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
}
