package files

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Writable says whether WriteRegular may write path: nothing there yet,
// or a regular file. A symlink (written through, it would change a file
// elsewhere), a FIFO (opening it blocks until a reader comes), a device
// or a directory is refused, naming path. Commands call it before work
// whose result they write, so a request that cannot be written stops
// first.
func Writable(path string) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case st.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symlink: refusing to write through it; remove it or name another file", path)
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%s): refusing to write it", path, kind(st.Mode()))
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// WriteRegular replaces the file at path with data: written to a new file
// in the same directory, synced, then renamed over path, so a reader sees
// the old file or the new one, never half of either, and a symlink at
// path is never followed (Writable refuses one). The file keeps the mode
// of the one it replaces; a new file gets perm less the umask, as
// os.WriteFile gives it.
func WriteRegular(path string, data []byte, perm fs.FileMode) error {
	if err := Writable(path); err != nil {
		return err
	}
	keep := false
	if st, err := os.Lstat(path); err == nil {
		perm, keep = st.Mode().Perm(), true
	}
	f, err := createTemp(path, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && keep {
		// The umask applied at creation; an existing file's mode is kept
		// whatever the umask.
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// createTemp creates a new file beside path, with perm (the umask
// applies): os.CreateTemp would make it 0600 whatever perm.
func createTemp(path string, perm fs.FileMode) (*os.File, error) {
	dir, base := filepath.Split(path)
	for range 100 {
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no unused temporary name beside %s", path)
}
