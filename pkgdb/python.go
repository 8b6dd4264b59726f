package pkgdb

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
)

// parseRecord reads a dist-info's RECORD (CSV: path, hash, size), whose
// paths are relative to site, the directory holding the dist-info (or
// absolute). A path that climbs out of the image's root, or a line that
// is not CSV, is an error naming its line.
func parseRecord(name, site string, b []byte) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var out []string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err) // names the line
		}
		line, _ := r.FieldPos(0) // only after a record was read: it panics after an error
		if rec[0] == "" {
			continue
		}
		p, ok := inside(site, rec[0])
		if !ok {
			return nil, fmt.Errorf("%s:%d: path %q is not in the image", name, line, rec[0])
		}
		out = append(out, p)
	}
}

// parseMetadata reads a dist-info's METADATA (email-style headers, then
// a body) for the distribution's Name and Version.
func parseMetadata(name string, b []byte) (dist, version string, err error) {
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[:i+1] // the headers; the body is free text
	}
	err = stanzas(name, b, func(_ int, k, v string) error {
		switch k {
		case "Name":
			dist = v
		case "Version":
			version = v
		}
		return nil
	}, func(int) error { return nil })
	if err == nil && (dist == "" || version == "") {
		err = fmt.Errorf("%s: no Name or no Version", name)
	}
	return dist, version, err
}

// distSite is the directory holding a dist-info directory.
func distSite(distDir string) string { return path.Dir(distDir) }
