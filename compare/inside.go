package compare

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"

	"github.com/reprover/reprover/causes"
)

// Archives inside files (tar, tar.gz, gzip, zip, jar, wheel) that differ
// are opened and their members compared with the same aspects as layer
// files, down to maxArchiveDepth archives deep. Their bytes are data:
// names are cleaned and never used on the host, and what is read is
// bounded in entries and in decompressed bytes; an archive over a bound
// or malformed is not descended into (its cause still stands).
const (
	maxArchiveDepth = 3
	maxInnerEntries = 10_000
	maxInnerBytes   = causes.MaxInflate
)

// innerChanges compares two versions of an archive member by member; nil
// when they are not both archives. why says why two archives were not
// compared (malformed, over the bounds, nested too deep).
func innerChanges(a, b []byte, o Options, depth int) (changes []FileChange, why string) {
	if !isArchive(a) || !isArchive(b) {
		return nil, ""
	}
	if depth > maxArchiveDepth {
		return nil, fmt.Sprintf("not opened: archives nested more than %d deep", maxArchiveDepth)
	}
	ea, ca, err := archiveEntries(a)
	if err != nil {
		return nil, "not opened: " + err.Error()
	}
	eb, cb, err := archiveEntries(b)
	if err != nil {
		return nil, "not opened: " + err.Error()
	}
	ma, na := layerMap(slices.Values(ea))
	mb, nb := layerMap(slices.Values(eb))
	fcs := diffEntries(ma, mb, na, nb, nil)
	for i := range fcs {
		fc := &fcs[i]
		f := classify(fc, ca[fc.Path], cb[fc.Path], o)
		fc.Cause, fc.Evidence = f.Cause, f.Evidence
		if fc.Change == Modified && ca[fc.Path] != nil && cb[fc.Path] != nil {
			describeInside(fc, ca[fc.Path], cb[fc.Path], o, depth+1)
		}
	}
	return fcs, ""
}

// describeInside compares a modified file's contents as archives, when
// they are, and words what was found in its cause and evidence.
func describeInside(fc *FileChange, a, b []byte, o Options, depth int) {
	var why string
	fc.Inner, why = innerChanges(a, b, o, depth)
	explainByMembers(fc)
	if why != "" {
		fc.Evidence += "; inside it " + why
	}
}

func isArchive(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte{0x1f, 0x8b}) || isTar(b)
}

func isTar(b []byte) bool { return len(b) >= 512 && string(b[257:262]) == "ustar" }

// archiveEntries lists an archive's members as entries, with the content
// of each regular one; an error when b is malformed or over the bounds.
func archiveEntries(b []byte) ([]*Entry, map[string][]byte, error) {
	content := map[string][]byte{}
	budget := int64(maxInnerBytes)
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, nil, err
		}
		if len(zr.File) > maxInnerEntries {
			return nil, nil, fmt.Errorf("more than %d members", maxInnerEntries)
		}
		var es []*Entry
		for _, f := range zr.File {
			e := &Entry{Path: innerName(f.Name), Type: kindFile, Mode: uint32(f.Mode().Perm())}
			e.setModTime(f.Modified)
			if f.FileInfo().IsDir() {
				e.Type = kindDir
			} else {
				rc, err := f.Open()
				if err != nil {
					return nil, nil, err
				}
				c, err := readBounded(rc, &budget)
				rc.Close()
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", e.Path, err)
				}
				e.Size, content[e.Path] = int64(len(c)), c
				e.setDigest(digestOf(c))
			}
			es = append(es, e)
		}
		return es, content, nil
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, nil, err
		}
		c, err := readBounded(zr, &budget)
		if err != nil {
			return nil, nil, err
		}
		if isTar(c) {
			return tarEntries(c)
		}
		name := zr.Name
		if name == "" {
			name = "(gzip content)"
		}
		p := innerName(name)
		content[p] = c
		e := &Entry{Path: p, Type: kindFile, Size: int64(len(c))}
		e.setDigest(digestOf(c))
		e.setModTime(zr.ModTime)
		return []*Entry{e}, content, nil
	}
	return tarEntries(b)
}

func tarEntries(b []byte) ([]*Entry, map[string][]byte, error) {
	content := map[string][]byte{}
	budget := int64(maxInnerBytes)
	var es []*Entry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return es, content, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if len(es) >= maxInnerEntries {
			return nil, nil, fmt.Errorf("more than %d members", maxInnerEntries)
		}
		e := &Entry{Path: innerName(h.Name), Mode: uint32(h.Mode & 07777)}
		e.setIDs(int64(h.Uid), int64(h.Gid))
		e.setLinkname(h.Linkname)
		e.setModTime(h.ModTime)
		e.setDev(h.Devmajor, h.Devminor)
		switch e.Type = tarKind(h.Typeflag); e.Type {
		case kindFile:
			c, err := readBounded(tr, &budget)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", e.Path, err)
			}
			e.Size, content[e.Path] = int64(len(c)), c
			e.setDigest(digestOf(c))
		case kindUnknown:
			e.Type, e.typeflag = kindOther, h.Typeflag
		}
		es = append(es, e)
	}
}

// readBounded reads r whole, failing past what is left of budget.
func readBounded(r io.Reader, budget *int64) ([]byte, error) {
	c, err := io.ReadAll(io.LimitReader(r, *budget+1))
	if err != nil {
		return nil, err
	}
	if *budget -= int64(len(c)); *budget < 0 {
		return nil, fmt.Errorf("over %d decompressed bytes", maxInnerBytes)
	}
	return c, nil
}

func digestOf(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

// innerName is a member's name as a layer entry's path: cleaned, except
// that a name climbing above the archive's root keeps its "..", so that
// a zip-slip name shows as one (a name is data, never a path used here).
func innerName(name string) string {
	p, _ := normalize(name)
	return p
}
