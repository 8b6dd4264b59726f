package pkgdb

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/reprover/reprover/internal/text"
)

// stanzas reads b, the database file name, as deb822-style stanzas
// (dpkg's "Key: value", apk's "K:value") separated by blank lines: field
// is called for each field's first line, end after each stanza.
// Continuation lines (a space or a tab first) are skipped: no field read
// here spans lines. A line that is neither is an error naming it.
func stanzas(name string, b []byte, field func(line int, key, value string) error, end func(line int) error) error {
	open := false
	for n := 1; len(b) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(bytes.TrimSpace(line)) == 0:
			if open {
				if err := end(n); err != nil {
					return err
				}
			}
			open = false
			continue
		case line[0] == ' ' || line[0] == '\t':
			if !open {
				return fmt.Errorf("%s:%d: a continuation line outside a stanza", name, n)
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) == 0 {
			return fmt.Errorf("%s:%d: not a field: %q", name, n, text.Truncate(string(line), 80))
		}
		open = true
		if err := field(n, string(k), strings.TrimSpace(string(v))); err != nil {
			return err
		}
	}
	if open {
		return end(-1)
	}
	return nil
}

// lines calls f with each line of b that is not blank, and its number.
func lines(b []byte, f func(n int, line string) error) error {
	for n := 1; len(b) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := f(n, string(line)); err != nil {
			return err
		}
	}
	return nil
}
