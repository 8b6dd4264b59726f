// Package files reads the small files of an untrusted source tree (a
// Dockerfile, a lock file, a bake file): regular files only, under a size
// limit, never blocking on a FIFO.
package files

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/reprover/reprover/internal/limits"
)

// ReadRegular reads the regular file at path, of at most max bytes; name
// is how errors call it. A FIFO, a device or a directory is refused at
// once (O_NONBLOCK: opening a FIFO does not wait for a writer).
func ReadRegular(path, name string, max int64, limitName string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w", name, &limits.Error{What: "bytes", Limit: limitName, Max: max, Got: int64(len(b))})
	}
	return b, nil
}
