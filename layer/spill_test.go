package layer

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSpillRoundTrip: an entry written to a spill file reads back with
// every field, those out of line included; a record cut short, or
// claiming a field larger than any walk keeps, is an error.
func TestSpillRoundTrip(t *testing.T) {
	mk := func(f func(e *Entry)) *Entry {
		e := &Entry{Path: "/usr/lib/x", Size: 12, Mode: 0o4755, Type: KindFile}
		e.SetModTime(time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC))
		e.SetIDs(1000, 1000)
		e.SetDigest(bytes.Repeat([]byte{0xab}, 32))
		f(e)
		return e
	}
	tests := []struct {
		name string
		e    *Entry
	}{
		{"file", mk(func(*Entry) {})},
		{"text kept, packed", mk(func(e *Entry) { e.SetText([]byte(strings.Repeat("hello world\n", 100))) })},
		{"text kept, short", mk(func(e *Entry) { e.SetText([]byte("hi")) })},
		{"empty text kept", mk(func(e *Entry) { e.SetText(nil) })},
		{"owner ids beyond 32 bits", mk(func(e *Entry) { e.SetIDs(1<<40, -1) })},
		{"xattrs", mk(func(e *Entry) { e.SetXattr("security.capability", "\x01\x00"); e.SetXattr("user.a", "") })},
		{"device", &Entry{Path: "/dev/null", Type: KindChar, extra: &entryExtra{devMajor: 1, devMinor: 3}}},
		{"hard link", &Entry{Path: "/bin/ash", Type: KindHardlink, extra: &entryExtra{linkname: "/bin/sh"}}},
		{"whiteout", &Entry{Path: "/etc/shadow", Type: KindWhiteout, Whiteout: true}},
		{"opaque", &Entry{Path: "/etc", Type: KindWhiteout, Opaque: true}},
		{"unknown type", &Entry{Path: "/x", Type: KindUnknown, typeflag: 'Z', mtime: -1 << 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendEntry(nil, tt.e, 41)
			got, seq, err := readEntry(bufio.NewReader(bytes.NewReader(b)))
			if err != nil {
				t.Fatal(err)
			}
			// Written again, it is the same record: every field the
			// accessors show came back.
			if again := appendEntry(nil, got, seq); seq != 41 || !bytes.Equal(again, b) {
				t.Errorf("read back %+v (seq %d), want %+v (seq 41)", got, seq, tt.e)
			}
			if !reflect.DeepEqual(got.Xattrs(), tt.e.Xattrs()) || got.UID() != tt.e.UID() || got.GID() != tt.e.GID() || !got.ModTime().Equal(tt.e.ModTime()) {
				t.Errorf("read back %+v, want %+v", got, tt.e)
			}
			if string(got.Text()) != string(tt.e.Text()) {
				t.Errorf("text %q, want %q", got.Text(), tt.e.Text())
			}
			for n := range len(b) {
				if _, _, err := readEntry(bufio.NewReader(bytes.NewReader(b[:n]))); !errors.Is(err, errSpill) {
					t.Fatalf("cut to %d of %d bytes: %v, want a damaged record", n, len(b), err)
				}
			}
		})
	}
	huge := appendBytes([]byte{0}, strings.Repeat("x", 10))
	huge = append([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f}, huge[2:]...) // a path of 4 GiB
	if _, _, err := readEntry(bufio.NewReader(bytes.NewReader(huge))); !errors.Is(err, errSpill) {
		t.Errorf("a 4 GiB path: %v, want a damaged record", err)
	}
}
