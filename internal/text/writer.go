package text

import (
	"bytes"
	"io"
)

// maxPending bounds how much of a line VisibleWriter holds before it
// writes it out unfinished.
const maxPending = 64 << 10

// VisibleWriter writes to w what is written to it with the control
// characters of each line made visible (VisibleLines): for a stream that
// carries untrusted text line by line, such as BuildKit's plain progress
// display with a step's output in it. Close writes an unfinished last line.
func VisibleWriter(w io.Writer) io.WriteCloser { return &visibleWriter{w: w} }

type visibleWriter struct {
	w       io.Writer
	pending []byte
}

func (v *visibleWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			v.pending = append(v.pending, p...)
			if len(v.pending) < maxPending {
				return n, nil
			}
			return n, v.flush()
		}
		v.pending = append(v.pending, p[:i+1]...)
		p = p[i+1:]
		if err := v.flush(); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (v *visibleWriter) flush() error {
	if len(v.pending) == 0 {
		return nil
	}
	_, err := io.WriteString(v.w, VisibleLines(string(v.pending)))
	v.pending = v.pending[:0]
	return err
}

// Close writes what is left of an unfinished line.
func (v *visibleWriter) Close() error { return v.flush() }
