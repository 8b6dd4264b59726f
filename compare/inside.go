package compare

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/reprover/reprover/internal/archive"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/layer"
)

// Archives inside files (tar, tar.gz, gzip, zip, jar, wheel) that differ
// are opened and their members compared with the same aspects as layer
// files, down to MaxArchiveDepth archives deep. Their bytes are data:
// names are cleaned and never used on the host, and what is read is
// bounded per archive and, in all, per comparison (Limits.MaxArchive*,
// one budget that causes spends from too); an archive over a bound is not
// compared, which the platform's findings say (archiveNotCompared), and
// one malformed is not opened; either way its cause still stands.

// kindArchiveNotCompared is the kind of the platform's finding that
// names a limit that kept archives inside differing files from being
// compared.
const kindArchiveNotCompared = "archiveNotCompared"

// inside opens the archives inside one platform's differing files, from
// the comparison's budget, and keeps the limits that stopped it.
type inside struct {
	o      Options
	budget *archive.Budget
	over   []overLimit // one per limit, in the order they were met
}

// overLimit is a limit that kept n archives from being compared; where
// is the first of them, err its error.
type overLimit struct {
	where string
	err   *limits.Error
	n     int
}

// describe compares a modified file's contents as archives, when they
// are, and words what was found in its cause and evidence. where names
// the file ("/app/x.jar", "/app/x.jar!/lib/y.jar" inside it).
func (in *inside) describe(ctx context.Context, fc *FileChange, a, b []byte, where string, depth int) error {
	inner, why, err := in.changes(ctx, a, b, where, depth)
	if err != nil {
		return err
	}
	fc.Inner = inner
	explainByMembers(fc)
	// causes may have said so already, reading the same archives.
	if why != "" && !strings.Contains(fc.Evidence, "; inside it not compared: ") {
		fc.Evidence += "; inside it " + why
	}
	return nil
}

// changes compares two versions of an archive member by member; nil
// when they are not both archives. why says why two archives were not
// compared (over a limit, malformed). The error is ctx's.
func (in *inside) changes(ctx context.Context, a, b []byte, where string, depth int) (changes []FileChange, why string, err error) {
	if !archive.Is(a) || !archive.Is(b) {
		return nil, "", nil
	}
	ea, eb, ca, cb, err := in.open(ctx, a, b, depth)
	if err != nil {
		why, err := in.notCompared(ctx, where, err)
		return nil, why, err
	}
	ma, na := layerMap(slices.Values(ea))
	mb, nb := layerMap(slices.Values(eb))
	fcs := diffEntries(ma, mb, na, nb, nil)
	for i := range fcs {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		fc := &fcs[i]
		f, err := classify(ctx, fc, ca[fc.Path], cb[fc.Path], in.o, in.budget)
		if err != nil {
			return nil, "", err
		}
		fc.Cause, fc.Evidence = f.Cause, f.Evidence
		if fc.Change == Modified && ca[fc.Path] != nil && cb[fc.Path] != nil {
			if err := in.describe(ctx, fc, ca[fc.Path], cb[fc.Path], where+"!"+fc.Path, depth+1); err != nil {
				return nil, "", err
			}
		}
	}
	return fcs, "", nil
}

// open reads both archives, depth archives deep.
func (in *inside) open(ctx context.Context, a, b []byte, depth int) (ea, eb []*layer.Entry, ca, cb map[string][]byte, err error) {
	if err = in.budget.Depth(depth); err != nil {
		return
	}
	if ea, ca, err = archiveEntries(ctx, a, in.budget); err != nil {
		return
	}
	eb, cb, err = archiveEntries(ctx, b, in.budget)
	return
}

// notCompared words why an archive at where was not compared, and keeps
// the limit when one was met; the error is ctx's when it is done.
func (in *inside) notCompared(ctx context.Context, where string, err error) (string, error) {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return "", err
	}
	var le *limits.Error
	if !errors.As(err, &le) {
		return "not opened: " + err.Error(), nil
	}
	i := slices.IndexFunc(in.over, func(o overLimit) bool { return o.err.Limit == le.Limit })
	if i < 0 {
		in.over = append(in.over, overLimit{where: where, err: le})
		i = len(in.over) - 1
	}
	in.over[i].n++
	return "not compared: " + err.Error(), nil
}

// findings are the platform's findings of the limits met.
func (in *inside) findings() []Finding {
	var fs []Finding
	for _, o := range in.over {
		fs = append(fs, Finding{Path: o.where, Kind: kindArchiveNotCompared,
			Message: fmt.Sprintf("%d archive(s) inside differing files not compared, this one the first: %v", o.n, o.err)})
	}
	return fs
}

// archiveEntries lists an archive's members as entries, with the content
// of each regular one; an error when b is malformed, over a limit, or ctx
// is done.
func archiveEntries(ctx context.Context, b []byte, bud *archive.Budget) ([]*layer.Entry, map[string][]byte, error) {
	a, err := archive.Read(ctx, b, bud)
	if err != nil {
		return nil, nil, err
	}
	content := map[string][]byte{}
	es := make([]*layer.Entry, 0, len(a.Members))
	for _, m := range a.Members {
		h := &m.Header
		e := &layer.Entry{Path: innerName(h.Name), Mode: uint32(h.Mode & 07777)}
		e.SetIDs(int64(h.Uid), int64(h.Gid))
		e.SetLinkname(h.Linkname)
		e.SetModTime(h.ModTime)
		e.SetDev(h.Devmajor, h.Devminor)
		switch e.Type = layer.TarKind(h.Typeflag); e.Type {
		case layer.KindFile:
			e.Size, content[e.Path] = int64(len(m.Content)), m.Content
			e.SetDigest(digestOf(m.Content))
		case layer.KindUnknown:
			e.SetOther(h.Typeflag)
		}
		es = append(es, e)
	}
	return es, content, nil
}

func digestOf(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

// innerName is a member's name as a layer entry's path: cleaned, except
// that a name climbing above the archive's root keeps its "..", so that
// a zip-slip name shows as one (a name is data, never a path used here).
func innerName(name string) string {
	p, _ := layer.Normalize(name)
	return p
}
