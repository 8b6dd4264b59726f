package causes

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var hexIDWhole = regexp.MustCompile(`(?i)^[0-9a-f]{16,}$`)

// textWhole is text as it was before it cut the text into pieces: the
// oracle it must agree with, on whole strings.
func textWhole(a, b string, w Window) (Finding, bool) {
	var evidence []string
	inWindow := false
	na, nb := a, b
	for _, f := range timeForms {
		ta, tb := f.re.FindAllString(na, -1), f.re.FindAllString(nb, -1)
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
		na, nb = f.re.ReplaceAllString(na, "<TIME>"), f.re.ReplaceAllString(nb, "<TIME>")
	}
	if na == nb && inWindow {
		return Finding{Timestamp.ID, "times within the builds' window: " + strings.Join(evidence, ", ")}, true
	}
	if la, lb := lsTime.FindAllString(na, -1), lsTime.FindAllString(nb, -1); len(firstDifferent(la, lb)) > 0 {
		ev := firstDifferent(la, lb)[0]
		na, nb = lsTime.ReplaceAllString(na, "<LSTIME>"), lsTime.ReplaceAllString(nb, "<LSTIME>")
		if na == nb {
			return Finding{ContextTimes.ID, fmt.Sprintf("file times as `ls -l` prints them: %q vs %q", ev[0], ev[1])}, true
		}
	}
	if na == nb && len(evidence) > 0 {
		return Finding{Timestamp.ID, "times (outside the builds' known window): " + strings.Join(evidence, ", ")}, true
	}
	if ta, tb := strings.TrimSpace(a), strings.TrimSpace(b); hexIDWhole.MatchString(ta) && hexIDWhole.MatchString(tb) {
		return Finding{RandomID.ID, fmt.Sprintf("a lone hexadecimal identifier: %q vs %q", ta, tb)}, true
	}
	ia, ib := uuidRe.FindAllString(na, -1), uuidRe.FindAllString(nb, -1)
	if d := firstDifferent(ia, ib); len(d) > 0 {
		if uuidRe.ReplaceAllString(na, "<ID>") == uuidRe.ReplaceAllString(nb, "<ID>") {
			return Finding{RandomID.ID, fmt.Sprintf("UUIDs differ: %q vs %q", d[0][0], d[0][1])}, true
		}
	}
	la, lb := strings.Split(strings.TrimSuffix(a, "\n"), "\n"), strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	if len(la) > 1 {
		sa, sb := slices.Clone(la), slices.Clone(lb)
		slices.Sort(sa)
		slices.Sort(sb)
		if slices.Equal(sa, sb) {
			return Finding{Order.ID, fmt.Sprintf("the same %d lines in another order", len(la))}, true
		}
	}
	return Finding{}, false
}

// textCases are texts the text check must judge as the whole-text
// oracle does, cut into pieces or not.
func textCases() [][2]string {
	stamp := func(t time.Time) string {
		return t.Format(time.RFC3339) + " " + t.Format(time.UnixDate) + " " + t.Format(time.RFC1123Z) + fmt.Sprintf(" s=%d", t.Unix())
	}
	long := func(sep string, t time.Time) string {
		var b strings.Builder
		for i := range 3000 {
			fmt.Fprintf(&b, "{\"n\":%d,\"at\":\"%s\",\"id\":\"0b2d6f0e-6d1c-4c5e-9a65-2a3f1c7e9b1%d\"}%s", i, t.Format(time.RFC3339), i%10, sep)
		}
		return b.String()
	}
	return [][2]string{
		{stamp(built1) + "\n", stamp(built2) + "\n"},
		{long("\n", built1), long("\n", built2)},
		{long("", built1), long("", built2)}, // one line of 300 KB
		{long(",", built1), long(",", sde)},
		{"x_1764469423_y " + long(" ", built1), "x_1764469518_y " + long(" ", built1)},
		{strings.Repeat("a", 5000) + "1764469423 " + stamp(built1), strings.Repeat("a", 5000) + "1764469518 " + stamp(built2)},
		{"-rw-r--r-- 1 root root 6 Nov 30 02:33 hello.txt\n" + long("\n", sde), "-rw-r--r-- 1 root root 6 Mar  1  2025 hello.txt\n" + long("\n", sde)},
		{"4f1c2a9e8b7d6c5a4f1c2a9e8b7d6c5a\n", "0A1B2C3D4E5F60718293A4B5C6D7E8F9\n"},
		{strings.Repeat("0123456789abcdef", 1000), strings.Repeat("fedcba9876543210", 1000)},
		{"b\na\nc\n" + long("\n", sde), long("\n", sde) + "a\nb\nc\n"},
		{"Mon, 30 Nov 2026 02:33:43 +0000 ünï " + long("é", built1), "Mon, 30 Nov 2026 02:35:18 +0000 ünï " + long("é", built2)},
	}
}

// TestTextPieces: the text check over pieces judges as it did over whole
// texts.
func TestTextPieces(t *testing.T) {
	for i, c := range textCases() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want, wantOK := textWhole(c[0], c[1], window)
			got, ok, err := text(t.Context(), c[0], c[1], window)
			if err != nil || got != want || ok != wantOK {
				t.Errorf("text: %v %+v (%v), whole: %v %+v", ok, got, err, wantOK, want)
			}
		})
	}
}

// TestTextLongRun: a text with a run too long to cut is not judged, and
// quickly; a cancelled context stops the check.
func TestTextLongRun(t *testing.T) {
	run := strings.Repeat("a1", maxPiece)
	if f, ok, err := text(t.Context(), run+"x", run+"y", window); ok || err != nil {
		t.Errorf("a %d-byte run: %+v %v %v", len(run), f, ok, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := text(ctx, "a\nb", "b\na", window); err != context.Canceled {
		t.Errorf("cancelled: error %v", err)
	}
}

// FuzzTextPieces: the text check over pieces judges any two texts as it
// did over whole texts.
func FuzzTextPieces(f *testing.F) {
	for _, c := range textCases() {
		f.Add(c[0], c[1], uint16(0))
	}
	f.Fuzz(func(t *testing.T, a, b string, repeat uint16) {
		// Repeated, the texts span many pieces; the oracle is slow on
		// large ones.
		n := int(repeat%64) + 1
		if (len(a)+len(b))*n > 64<<10 {
			n = 1
		}
		if len(a)+len(b) > 1<<20 {
			return
		}
		a, b = strings.Repeat(a, n), strings.Repeat(b, n)
		want, wantOK := textWhole(a, b, window)
		got, ok, err := text(t.Context(), a, b, window)
		if err == nil && (got != want || ok != wantOK) {
			t.Errorf("text: %v %+v, whole: %v %+v", ok, got, wantOK, want)
		}
	})
}
