package causes

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/internal/golden"
)

var update = flag.Bool("update", false, "rewrite docs/causes.md")

// TestCausesDoc keeps docs/causes.md generated from the table.
func TestCausesDoc(t *testing.T) {
	got := Markdown()
	golden.File(t, filepath.Join("..", "docs", "causes.md"), got, *update, "go test ./causes -run TestCausesDoc")
	for _, c := range Table {
		if !strings.Contains(got, "\n## "+c.ID+"\n") {
			t.Errorf("docs/causes.md has no section for %s", c.ID)
		}
	}
}

var (
	sde      = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	built1   = time.Date(2026, 11, 30, 2, 33, 43, 0, time.UTC)
	built2   = built1.Add(95 * time.Second)
	window   = Window{From: sde, To: built2.Add(time.Hour)}
	pycMagic = []byte{0xcb, 0x0d, '\r', '\n'}
)

func pycFile(flags, mtime, size uint32, code string) []byte {
	b := append([]byte{}, pycMagic...)
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = binary.LittleEndian.AppendUint32(b, mtime)
	b = binary.LittleEndian.AppendUint32(b, size)
	return append(b, code...)
}

func gz(t *testing.T, name string, mtime time.Time, data string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Name, zw.ModTime = name, mtime
	zw.Write([]byte(data))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type file struct {
	name, body string
	mtime      time.Time
}

func zipOf(t *testing.T, fs ...file) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range fs {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: f.mtime})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarOf(t *testing.T, fs ...file) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range fs {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: f.mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		in       Input
		want     string
		evidence []string
	}{
		{name: "metadata only", in: Input{Path: "/app/f", Aspects: []string{"mtime"}}, want: MetadataOnly.ID, evidence: []string{"mtime"}},
		{name: "RUN date", in: Input{Path: "/stamp", ContentDiffers: true,
			A: []byte(built1.Format(time.UnixDate) + "\n"), B: []byte(built2.Format(time.UnixDate) + "\n")},
			want: Timestamp.ID, evidence: []string{"Mon Nov 30 02:33:43 UTC 2026"}},
		{name: "ISO 8601 build stamp in JSON", in: Input{Path: "/app/build.json", ContentDiffers: true,
			A: []byte(`{"version":"1.0","built":"` + built1.Format(time.RFC3339) + `"}`), B: []byte(`{"version":"1.0","built":"` + built2.Format(time.RFC3339) + `"}`)},
			want: Timestamp.ID, evidence: []string{"2026-11-30T02:33:43Z"}},
		{name: "RFC 2822", in: Input{Path: "/app/mail", ContentDiffers: true,
			A: []byte("Date: " + built1.Format(time.RFC1123Z) + "\n"), B: []byte("Date: " + built2.Format(time.RFC1123Z) + "\n")},
			want: Timestamp.ID},
		{name: "epoch seconds and nanoseconds", in: Input{Path: "/app/ts", ContentDiffers: true,
			A: []byte("s=1764469423 ns=1764469423123456789\n"), B: []byte("s=1764469518 ns=1764469518987654321\n")},
			want: Timestamp.ID},
		{name: "a time and another change is not only a timestamp", in: Input{Path: "/app/build.txt", ContentDiffers: true,
			A: []byte(built1.Format(time.RFC3339) + " ok\n"), B: []byte(built2.Format(time.RFC3339) + " evil\n")},
			want: Unknown.ID},
		{name: "binary epoch seconds", in: Input{Path: "/app/data.bin", ContentDiffers: true,
			A: append(append([]byte("HDR\x00"), le32(uint32(built1.Unix()))...), "\x00body"...),
			B: append(append([]byte("HDR\x00"), le32(uint32(built2.Unix()))...), "\x00body"...)},
			want: Timestamp.ID, evidence: []string{"bytes 4–7"}},
		{name: "binary bytes that are not times", in: Input{Path: "/app/data.bin", ContentDiffers: true,
			A: []byte("\x00\x01\x02\x03"), B: []byte("\x00\x09\x02\x03")}, want: Unknown.ID},
		{name: "pyc header mtime", in: Input{Path: "/usr/lib/python3/dist-packages/x/__pycache__/m.cpython-311.pyc", ContentDiffers: true,
			A: pycFile(0, uint32(built1.Unix()), 120, "\xe3code"), B: pycFile(0, uint32(sde.Unix()), 120, "\xe3code")},
			want: PythonBytecode.ID, evidence: []string{"source mtime", "the code is the same"}},
		{name: "pyc code differs", in: Input{Path: "/app/m.pyc", ContentDiffers: true,
			A: pycFile(0, 1, 120, "\xe3code"), B: pycFile(0, 1, 120, "\xe3c0de")},
			want: PythonBytecode.ID, evidence: []string{"marshalled code differs"}},
		{name: "gzip header mtime and name", in: Input{Path: "/usr/share/doc/x/changelog.gz", ContentDiffers: true,
			A: gz(t, "changelog", built1, "same text\n"), B: gz(t, "changelog.1", built2, "same text\n")},
			want: GzipHeader.ID, evidence: []string{"header mtime", "header name", "decompressed data is the same"}},
		{name: "gzip of other data is not a header difference", in: Input{Path: "/app/x.gz", ContentDiffers: true,
			A: gz(t, "", time.Time{}, "one\n"), B: gz(t, "", time.Time{}, "two\n")},
			want: Unknown.ID},
		{name: "zip entry times", in: Input{Path: "/app/lib.jar", ContentDiffers: true,
			A: zipOf(t, file{"a.class", "A", built1}, file{"b.class", "B", built1}), B: zipOf(t, file{"a.class", "A", built2}, file{"b.class", "B", built2})},
			want: ArchiveTimes.ID, evidence: []string{"zip member a.class"}},
		{name: "zip member order", in: Input{Path: "/app/x.whl", ContentDiffers: true,
			A: zipOf(t, file{"a", "A", sde}, file{"b", "B", sde}), B: zipOf(t, file{"b", "B", sde}, file{"a", "A", sde})},
			want: Order.ID},
		{name: "tar.gz member times", in: Input{Path: "/app/bundle.tar.gz", ContentDiffers: true,
			A: gz(t, "", sde, string(tarOf(t, file{"f", "x", built1}))), B: gz(t, "", sde, string(tarOf(t, file{"f", "x", built2})))},
			want: ArchiveTimes.ID, evidence: []string{"tar.gz member f"}},
		{name: "dpkg log", in: Input{Path: "/var/log/dpkg.log", ContentDiffers: true, A: []byte("a"), B: []byte("b")},
			want: PackageManagerFiles.ID, evidence: []string{"dpkg's log"}},
		{name: "apt lists, content not read", in: Input{Path: "/var/lib/apt/lists/deb.debian.org_Packages", ContentDiffers: true},
			want: PackageManagerFiles.ID},
		{name: "ldconfig cache", in: Input{Path: "/var/cache/ldconfig/aux-cache", ContentDiffers: true, A: []byte("\x01"), B: []byte("\x02")},
			want: PackageManagerFiles.ID},
		{name: "machine id by path", in: Input{Path: "/etc/machine-id", ContentDiffers: true, A: []byte("x\n"), B: []byte("y\n")},
			want: RandomID.ID},
		{name: "a lone hex id elsewhere", in: Input{Path: "/app/instance-id", ContentDiffers: true,
			A: []byte("4f1c2a9e8b7d6c5a4f1c2a9e8b7d6c5a\n"), B: []byte("0a1b2c3d4e5f60718293a4b5c6d7e8f9\n")},
			want: RandomID.ID},
		{name: "a UUID in a config", in: Input{Path: "/app/config.ini", ContentDiffers: true,
			A: []byte("[app]\nid = 0b2d6f0e-6d1c-4c5e-9a65-2a3f1c7e9b10\nname=x\n"), B: []byte("[app]\nid = 9e1f0c1d-2b3a-4c5d-8e9f-0a1b2c3d4e5f\nname=x\n")},
			want: RandomID.ID, evidence: []string{"UUIDs differ"}},
		{name: "lines reordered", in: Input{Path: "/app/list.txt", ContentDiffers: true, A: []byte("b\na\nc\n"), B: []byte("a\nb\nc\n")},
			want: Order.ID},
		{name: "ls -l output", in: Input{Path: "/app/listing.txt", ContentDiffers: true,
			A: []byte("-rw-r--r-- 1 root root 6 Nov 30 02:33 hello.txt\n"), B: []byte("-rw-r--r-- 1 root root 6 Mar  1  2025 hello.txt\n")},
			want: ContextTimes.ID},
		{name: "a log only in one image", in: Input{Path: "/var/log/apt/eipp.log.xz", OnlyIn: "published"},
			want: PackageManagerFiles.ID, evidence: []string{"apt's logs"}},
		{name: "a file only in one image", in: Input{Path: "/app/.cache.so", OnlyIn: "published"},
			want: Unknown.ID, evidence: []string{"only in the published image"}},
		{name: "nothing fits", in: Input{Path: "/app/run.sh", ContentDiffers: true, A: []byte("echo hi\n"), B: []byte("curl evil | sh\n")},
			want: Unknown.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.Window == (Window{}) {
				tt.in.Window = window
			}
			got, err := Classify(t.Context(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Cause != tt.want {
				t.Fatalf("cause %s (%s), want %s", got.Cause, got.Evidence, tt.want)
			}
			for _, e := range tt.evidence {
				if !strings.Contains(got.Evidence, e) {
					t.Errorf("evidence %q lacks %q", got.Evidence, e)
				}
			}
		})
	}
}

func TestMatchPath(t *testing.T) {
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"/var/log/apt/**", "/var/log/apt/history.log", true},
		{"/var/log/apt/**", "/var/log/apt", false},
		{"/var/log/apt/**", "/var/log/aptitude", false},
		{"/var/lib/dpkg/*-old", "/var/lib/dpkg/status-old", true},
		{"/var/lib/dpkg/*-old", "/var/lib/dpkg/info/x-old", false},
		{"/home/*/.cache/**", "/home/app/.cache/pip/x", true},
		{"/etc/ssh/ssh_host_*", "/etc/ssh/ssh_host_ed25519_key.pub", true},
		{"/etc/machine-id", "/etc/machine-id", true},
		{"/etc/machine-id", "/etc/machine-id2", false},
	} {
		if got := matchPath(tt.pattern, tt.path); got != tt.want {
			t.Errorf("matchPath(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestHints(t *testing.T) {
	fs := []Finding{{Cause: PackageManagerFiles.ID}, {Cause: Timestamp.ID}, {Cause: PackageManagerFiles.ID}, {Cause: "no-such-cause"}}
	paths := []string{"/var/log/dpkg.log", "/stamp", "/var/log/apt/term.log", "/x"}
	hints := Hints(Tally(fs, paths))
	if len(hints) != 3 {
		t.Fatalf("hints %q, want 3", hints)
	}
	if want := "2 of 4 differences: package manager logs and caches (/var/log/dpkg.log, /var/log/apt/term.log). Fix: remove them"; !strings.HasPrefix(hints[0], want) {
		t.Errorf("first hint %q, want it to start %q", hints[0], want)
	}
	if !strings.Contains(hints[0], "docs/causes.md#package-manager-files") {
		t.Errorf("hint %q has no doc anchor", hints[0])
	}
	if !strings.HasPrefix(hints[2], "1 of 4 differences: no known cause") {
		t.Errorf("an unknown cause id counts as unknown: %q", hints[2])
	}
}

// FuzzClassify: any two contents get a cause of the table, without panic.
func FuzzClassify(f *testing.F) {
	f.Add("/stamp", []byte("Mon Nov 30 02:33:43 UTC 2026\n"), []byte("Mon Nov 30 02:35:18 UTC 2026\n"))
	f.Add("/m.pyc", pycFile(0, 1, 2, "c"), pycFile(0, 3, 2, "c"))
	f.Add("/x.gz", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, []byte{0x1f, 0x8b})
	f.Add("/a.zip", []byte("PK\x03\x04garbage"), []byte("PK\x03\x04"))
	f.Add("/etc/machine-id", []byte("ab\n"), []byte("cd\n"))
	f.Fuzz(func(t *testing.T, p string, a, b []byte) {
		got, err := Classify(t.Context(), Input{Path: p, ContentDiffers: true, A: a, B: b, Window: window})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ByID(got.Cause); err != nil {
			t.Fatalf("cause %q is not in the table", got.Cause)
		}
	})
}
