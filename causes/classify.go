package causes

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reprover/reprover/internal/archive"
	"github.com/reprover/reprover/internal/limits"
)

// Input is one file that differs between two builds.
type Input struct {
	Path string
	// ContentDiffers is false when only metadata differs (mode, owner,
	// time, xattrs): the cause is then MetadataOnly.
	ContentDiffers bool
	// Aspects are compare's names of what differs, for the evidence.
	Aspects []string
	// A and B are both contents; nil when not available (not a regular
	// file, or larger than the caller reads).
	A, B []byte
	// Window is when the builds ran: a time inside the content within it
	// is the build's time.
	Window Window
	// OnlyIn names the side the file is only in ("published"), when it
	// is not in both: only its path can then explain it.
	OnlyIn string
	// Archives is what may still be read of archives inside files (A
	// and B, when they are gzip streams or archives): the comparison's
	// budget, shared with every other file it explains; nil for a budget
	// of this call's own (archive.DefaultLimits).
	Archives *archive.Budget
}

// Window is a time range; the zero Window contains nothing.
type Window struct{ From, To time.Time }

// Contains reports whether t is in w.
func (w Window) Contains(t time.Time) bool {
	return !w.From.IsZero() && !t.Before(w.From) && !t.After(w.To)
}

// Finding is the cause of one difference and the evidence for it.
type Finding struct {
	Cause    string `json:"cause"`
	Evidence string `json:"evidence"`
}

// Classify names the cause of one differing file, most specific first,
// with its evidence; Unknown when nothing fits. The archives it opens
// spend from in.Archives; one over a limit is not judged by its members,
// and Unknown's evidence names the limit. The error is ctx's, when it is
// done before Classify is.
func Classify(ctx context.Context, in Input) (Finding, error) {
	if in.OnlyIn != "" {
		if f, ok := byPath(in.Path); ok {
			return f, nil
		}
		return Finding{Unknown.ID, "only in the " + in.OnlyIn + " image"}, nil
	}
	if !in.ContentDiffers {
		return Finding{MetadataOnly.ID, "content identical; differs in " + strings.Join(in.Aspects, ", ")}, nil
	}
	a, b := in.A, in.B
	bud := in.Archives
	if bud == nil {
		bud = archive.NewBudget(archive.Limits{})
	}
	var over error // a limit that kept an archive from being judged
	if a != nil && b != nil {
		if f, ok := pyc(in.Path, a, b); ok {
			return f, nil
		}
		for _, judge := range []func(context.Context, []byte, []byte, *archive.Budget) (Finding, bool, error){gzipHeader, archiveMembers} {
			f, ok, err := judge(ctx, a, b, bud)
			var le *limits.Error
			switch {
			case errors.As(err, &le):
				over = cmp.Or(over, err)
			case err != nil:
				return Finding{}, err
			case ok:
				return f, nil
			}
		}
	}
	if f, ok := byPath(in.Path); ok {
		return f, nil
	}
	if a != nil && b != nil {
		f, ok, err := content(ctx, a, b, in.Window)
		if err != nil {
			return Finding{}, err
		}
		if ok {
			return f, nil
		}
	}
	if a == nil || b == nil {
		return Finding{Unknown.ID, "the content was not read (not a regular file on both sides, or too large)"}, nil
	}
	ev := fmt.Sprintf("%d and %d bytes; nothing in the table explains the difference", len(a), len(b))
	if over != nil {
		ev += "; inside it not compared: " + over.Error()
	}
	return Finding{Unknown.ID, ev}, nil
}

// byPath is the cause the table of known paths gives p.
func byPath(p string) (Finding, bool) {
	r, ok := ForPath(p)
	if !ok {
		return Finding{}, false
	}
	return Finding{r.Cause.ID, r.What + " (" + r.Pattern + ")"}, true
}

// pyc: Python bytecode whose header (source mtime and size, PEP 552) or
// marshalled code differs.
func pyc(p string, a, b []byte) (Finding, bool) {
	if !strings.HasSuffix(p, ".pyc") || len(a) < 16 || len(b) < 16 || !bytes.Equal(a[:4], b[:4]) || a[2] != '\r' || a[3] != '\n' {
		return Finding{}, false
	}
	fa, fb := binary.LittleEndian.Uint32(a[4:8]), binary.LittleEndian.Uint32(b[4:8])
	switch {
	case fa == 0 && fb == 0 && bytes.Equal(a[16:], b[16:]):
		ta, tb := binary.LittleEndian.Uint32(a[8:12]), binary.LittleEndian.Uint32(b[8:12])
		sa, sb := binary.LittleEndian.Uint32(a[12:16]), binary.LittleEndian.Uint32(b[12:16])
		var ev []string
		if ta != tb {
			ev = append(ev, fmt.Sprintf("the header's source mtime %s vs %s", unixString(int64(ta)), unixString(int64(tb))))
		}
		if sa != sb {
			ev = append(ev, fmt.Sprintf("the header's source size %d vs %d", sa, sb))
		}
		return Finding{PythonBytecode.ID, strings.Join(ev, "; ") + "; the code is the same"}, true
	case fa != fb:
		return Finding{PythonBytecode.ID, fmt.Sprintf("one is timestamp-based, the other hash-based (flags %d vs %d)", fa, fb)}, true
	case bytes.Equal(a[16:], b[16:]):
		return Finding{PythonBytecode.ID, "the header's source hash differs; the code is the same"}, true
	}
	return Finding{PythonBytecode.ID, "the marshalled code differs (marshal's reference flags vary between runs, or the source differs)"}, true
}

// gzipHeader: gzip files whose decompressed bytes are the same. The
// error is a limit's or the context's.
func gzipHeader(ctx context.Context, a, b []byte, bud *archive.Budget) (Finding, bool, error) {
	ha, oka := parseGzipHeader(a)
	hb, okb := parseGzipHeader(b)
	if !oka || !okb {
		return Finding{}, false, nil
	}
	same, err := archive.SameInflated(ctx, a, b, bud)
	if err != nil || !same {
		return Finding{}, false, ignoreMalformed(err)
	}
	var ev []string
	if ha.ModTime != hb.ModTime {
		ev = append(ev, fmt.Sprintf("header mtime %s vs %s", unixString(ha.ModTime.Unix()), unixString(hb.ModTime.Unix())))
	}
	if ha.Name != hb.Name {
		ev = append(ev, fmt.Sprintf("header name %q vs %q", ha.Name, hb.Name))
	}
	if len(ev) == 0 {
		ev = append(ev, "the same data compressed differently (level or implementation)")
	}
	return Finding{GzipHeader.ID, strings.Join(ev, "; ") + "; the decompressed data is the same"}, true, nil
}

// ignoreMalformed keeps the errors that say why an archive was not
// judged (a limit, the context) and drops the others: what is malformed
// is judged otherwise.
func ignoreMalformed(err error) error {
	var le *limits.Error
	if errors.As(err, &le) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func parseGzipHeader(b []byte) (gzip.Header, bool) {
	if len(b) < 18 || b[0] != 0x1f || b[1] != 0x8b {
		return gzip.Header{}, false
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return gzip.Header{}, false
	}
	return zr.Header, true
}

// archiveMembers: zip (jar, wheel) or tar (possibly gzipped) files whose
// members are the same but for their times, or their order. The error is
// a limit's or the context's.
func archiveMembers(ctx context.Context, a, b []byte, bud *archive.Budget) (Finding, bool, error) {
	ma, kind, err := members(ctx, a, bud)
	if err != nil || ma == nil {
		return Finding{}, false, err
	}
	mb, _, err := members(ctx, b, bud)
	if err != nil || mb == nil || len(ma) != len(mb) {
		return Finding{}, false, err
	}
	sameContent, sameOrder, sameTimes := true, true, true
	var timeEv string
	byName := map[string]archive.Member{}
	for _, m := range mb {
		byName[m.Header.Name] = m
	}
	for i, m := range ma {
		o, ok := byName[m.Header.Name]
		if !ok || !bytes.Equal(m.Content, o.Content) {
			sameContent = false
			break
		}
		if mb[i].Header.Name != m.Header.Name {
			sameOrder = false
		}
		if !m.Header.ModTime.Equal(o.Header.ModTime) && sameTimes {
			sameTimes = false
			timeEv = fmt.Sprintf("%s member %s: mtime %s vs %s", kind, m.Header.Name, m.Header.ModTime.UTC().Format(time.RFC3339), o.Header.ModTime.UTC().Format(time.RFC3339))
		}
	}
	switch {
	case !sameContent:
		return Finding{}, false, nil
	case !sameTimes:
		return Finding{ArchiveTimes.ID, timeEv + "; members' contents the same"}, true, nil
	case !sameOrder:
		return Finding{Order.ID, fmt.Sprintf("the same %d %s members in another order", len(ma), kind)}, true, nil
	}
	return Finding{}, false, nil
}

// members lists a zip's or a tar's (or a gzipped tar's) members; nil
// when b is none of them, or is malformed.
func members(ctx context.Context, b []byte, bud *archive.Budget) ([]archive.Member, string, error) {
	if ok, err := archive.HasMembers(ctx, b, bud); !ok {
		return nil, "", ignoreMalformed(err)
	}
	a, err := archive.Read(ctx, b, bud)
	if err != nil {
		return nil, "", ignoreMalformed(err)
	}
	return a.Members, a.Kind, nil
}

// Tokens the text check replaces before comparing: times, then random
// identifiers.
var (
	months    = `(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`
	days      = `(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)`
	timeForms = []struct {
		re     *regexp.Regexp
		layout string // "" for epoch numbers
	}{
		{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?`), "iso"},
		{regexp.MustCompile(days + `, +\d{1,2} ` + months + ` \d{4} \d{2}:\d{2}:\d{2}(?: [+-]\d{4}| [A-Z]{2,5})?`), "rfc2822"},
		{regexp.MustCompile(days + ` ` + months + ` [ \d]\d \d{2}:\d{2}:\d{2}(?: [A-Z]{2,5})? \d{4}`), "date"},
		{regexp.MustCompile(`\b1\d{9}(?:\d{3}|\d{9})?(?:\.\d+)?\b`), "epoch"},
	}
	lsTime = regexp.MustCompile(months + ` [ \d]\d (?: \d{4}|\d{2}:\d{2})`)
	uuidRe = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
)

// parseTime reads a token matched by one of timeForms.
func parseTime(tok, form string) (time.Time, bool) {
	switch form {
	case "iso":
		for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05.999999999"} {
			if t, err := time.Parse(l, tok); err == nil {
				return t, true
			}
		}
	case "rfc2822":
		for _, l := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST", "Mon, _2 Jan 2006 15:04:05"} {
			if t, err := time.Parse(l, tok); err == nil {
				return t, true
			}
		}
	case "date":
		for _, l := range []string{time.UnixDate, "Mon Jan _2 15:04:05 2006"} {
			if t, err := time.Parse(l, tok); err == nil {
				return t, true
			}
		}
	case "epoch":
		digits, _, _ := strings.Cut(tok, ".")
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		switch len(digits) {
		case 10:
			return time.Unix(n, 0), true
		case 13:
			return time.UnixMilli(n), true
		case 19:
			return time.Unix(0, n), true
		}
	}
	return time.Time{}, false
}

// content judges two contents by what differs in them: text whose
// differences are all times in the window, ls-style dates, or random
// identifiers, or whose lines are only reordered; binary whose differing
// bytes are all integers that read as times in the window.
// The error is ctx's.
func content(ctx context.Context, a, b []byte, w Window) (Finding, bool, error) {
	if isText(a) && isText(b) {
		return text(ctx, string(a), string(b), w)
	}
	if len(a) == len(b) {
		return binaryTimes(ctx, a, b, w)
	}
	return Finding{}, false, nil
}

func isText(b []byte) bool {
	return !bytes.ContainsRune(b, 0) && utf8.Valid(b) // without copying what may be 64 MiB
}

// text tries each replacement in turn, cumulatively: the cause is the
// first that makes the contents equal. The regular expressions run over
// pieces of the text (pieces.go), the context checked between them; a
// text with a run too long to cut is not judged. The error is ctx's.
func text(ctx context.Context, a, b string, w Window) (Finding, bool, error) {
	f, ok, err := textPieces(ctx, a, b, w)
	if errors.Is(err, errLongRun) {
		return Finding{}, false, nil
	}
	return f, ok, err
}

func textPieces(ctx context.Context, a, b string, w Window) (Finding, bool, error) {
	s := searcher{ctx: ctx}
	var evidence []string
	inWindow := false
	na, nb := a, b
	for _, f := range timeForms {
		ta, tb := s.findAll(f.re, na), s.findAll(f.re, nb)
		for _, pair := range firstDifferent(ta, tb) {
			for _, tok := range pair {
				if t, ok := parseTime(tok, f.layout); ok && w.Contains(t) {
					inWindow = true
				}
			}
			if len(evidence) < 2 {
				evidence = append(evidence, fmt.Sprintf("%q vs %q", pair[0], pair[1]))
			}
		}
		na, nb = s.replaceAll(f.re, na, "<TIME>"), s.replaceAll(f.re, nb, "<TIME>")
	}
	if s.err != nil {
		return Finding{}, false, s.err
	}
	if na == nb && inWindow {
		return Finding{Timestamp.ID, "times within the builds' window: " + strings.Join(evidence, ", ")}, true, nil
	}
	if la, lb := s.findAll(lsTime, na), s.findAll(lsTime, nb); len(firstDifferent(la, lb)) > 0 {
		ev := firstDifferent(la, lb)[0]
		na, nb = s.replaceAll(lsTime, na, "<LSTIME>"), s.replaceAll(lsTime, nb, "<LSTIME>")
		if s.err == nil && na == nb {
			return Finding{ContextTimes.ID, fmt.Sprintf("file times as `ls -l` prints them: %q vs %q", ev[0], ev[1])}, true, nil
		}
	}
	if s.err != nil {
		return Finding{}, false, s.err
	}
	if na == nb && len(evidence) > 0 {
		return Finding{Timestamp.ID, "times (outside the builds' known window): " + strings.Join(evidence, ", ")}, true, nil
	}
	if ta, tb := strings.TrimSpace(a), strings.TrimSpace(b); isHexID(ta) && isHexID(tb) {
		return Finding{RandomID.ID, fmt.Sprintf("a lone hexadecimal identifier: %q vs %q", ta, tb)}, true, nil
	}
	ia, ib := s.findAll(uuidRe, na), s.findAll(uuidRe, nb)
	if d := firstDifferent(ia, ib); len(d) > 0 {
		if s.replaceAll(uuidRe, na, "<ID>") == s.replaceAll(uuidRe, nb, "<ID>") && s.err == nil {
			return Finding{RandomID.ID, fmt.Sprintf("UUIDs differ: %q vs %q", d[0][0], d[0][1])}, true, nil
		}
	}
	if s.err != nil {
		return Finding{}, false, s.err
	}
	if err := ctx.Err(); err != nil {
		return Finding{}, false, err
	}
	la, lb := strings.Split(strings.TrimSuffix(a, "\n"), "\n"), strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	if len(la) > 1 {
		sa, sb := slices.Clone(la), slices.Clone(lb)
		slices.Sort(sa)
		slices.Sort(sb)
		if slices.Equal(sa, sb) {
			return Finding{Order.ID, fmt.Sprintf("the same %d lines in another order", len(la))}, true, nil
		}
	}
	return Finding{}, false, nil
}

// firstDifferent pairs the tokens of a and b that differ, position by
// position (up to the shorter list).
func firstDifferent(a, b []string) [][2]string {
	var out [][2]string
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			out = append(out, [2]string{a[i], b[i]})
		}
	}
	return out
}

// binaryTimes: every run of differing bytes lies within a 4- or 8-byte
// integer (little or big endian) that reads as a time in the window on
// both sides.
func binaryTimes(ctx context.Context, a, b []byte, w Window) (Finding, bool, error) {
	if w.From.IsZero() {
		return Finding{}, false, nil
	}
	var ev []string
	for i, checked := 0, 0; i < len(a); {
		if i-checked >= pieceMin {
			if err := ctx.Err(); err != nil {
				return Finding{}, false, err
			}
			checked = i
		}
		if a[i] == b[i] {
			i++
			continue
		}
		j := i
		for j < len(a) && a[j] != b[j] {
			j++
		}
		at, ok := timeAround(a, b, i, j, w)
		if !ok {
			return Finding{}, false, nil
		}
		if len(ev) < 2 {
			ev = append(ev, at)
		}
		i = j
	}
	if len(ev) == 0 {
		return Finding{}, false, nil
	}
	return Finding{Timestamp.ID, "binary times within the builds' window: " + strings.Join(ev, ", ")}, true, nil
}

// timeAround finds an integer field covering bytes [i, j) that reads as
// a time in w in both a and b.
func timeAround(a, b []byte, i, j int, w Window) (string, bool) {
	for _, size := range []int{4, 8} {
		for start := max(0, j-size); start <= i && start+size <= len(a); start++ {
			for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
				ta, tb := readTime(a[start:start+size], order), readTime(b[start:start+size], order)
				if w.Contains(ta) && w.Contains(tb) {
					return fmt.Sprintf("bytes %d–%d: %s vs %s", start, start+size-1, ta.UTC().Format(time.RFC3339), tb.UTC().Format(time.RFC3339)), true
				}
			}
		}
	}
	return "", false
}

func readTime(b []byte, order binary.ByteOrder) time.Time {
	if len(b) == 4 {
		return time.Unix(int64(order.Uint32(b)), 0)
	}
	return time.Unix(int64(order.Uint64(b)), 0)
}

func unixString(s int64) string {
	return fmt.Sprintf("%d (%s)", s, time.Unix(s, 0).UTC().Format(time.RFC3339))
}
