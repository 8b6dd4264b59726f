package inspect_test

import (
	"archive/tar"
	"errors"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/inspect"
	"github.com/reprover/reprover/internal/limits"
)

// TestHostileLayers runs hostile layers (docs/threat-model.md, built in
// code as compare's hostile tests build them) through an inspection:
// each is a named limit error or a report with the findings it must
// have; none is a panic, a hang or a write outside the scratch directory.
func TestHostileLayers(t *testing.T) {
	const mib = 1 << 20
	raw := func(compressed, uncompressed []byte, mt types.MediaType) v1.Layer {
		return fixtures.RawLayer(compressed, uncompressed, mt)
	}
	gz := func(entries ...fixtures.Entry) v1.Layer {
		return fixtures.NewLayer(fixtures.Tar(entries...), fixtures.Gzip, false)
	}
	reg := fixtures.NewRegistry(t)
	for _, c := range []struct {
		name  string
		layer v1.Layer
		lim   inspect.Limits
		limit string   // the limit error's name, or "" for a report
		want  []string // checks the report must have, with their paths
	}{
		{name: "gzip bomb", layer: raw(fixtures.GzipBomb(64*mib), nil, types.OCILayer),
			lim: inspect.Limits{MaxLayerBytes: mib}, limit: "MaxLayerBytes"},
		{name: "zstd bomb", layer: raw(fixtures.ZstdBomb(64*mib, mib), nil, types.OCILayerZStd),
			lim: inspect.Limits{MaxLayerBytes: mib}, limit: "MaxLayerBytes"},
		{name: "entry-count bomb", layer: raw(fixtures.Compress(fixtures.Tar(slices.Repeat([]fixtures.Entry{fixtures.File("x", "")}, 2000)...), fixtures.Gzip), nil, types.OCILayer),
			lim: inspect.Limits{MaxEntries: 1000}, limit: "MaxEntries"},
		{name: "non-local names", layer: gz(fixtures.File("../../etc/passwd", "root::0:0::/:/bin/sh\n"), fixtures.Symlink("app/up", "../../../etc")),
			want: []string{inspect.LayerOddity + " /../../etc/passwd", inspect.LayerOddity + " /app/up"}},
		{name: "whiteout of the parent of a file", layer: gz(fixtures.Entry{Name: ".wh.app", Mode: 0o600}),
			want: []string{inspect.HiddenByDeletion + " /app/hello.txt", inspect.HiddenByDeletion + " /app/key.pem"}},
		{name: "opaque directory", layer: gz(fixtures.Dir("app"), fixtures.Opaque("app"), fixtures.File("app/new", "n\n")),
			want: []string{inspect.HiddenByDeletion + " /app/hello.txt", inspect.HiddenByDeletion + " /app/key.pem"}},
		{name: "a file where a directory was", layer: gz(fixtures.File("app", "now a file\n")),
			want: []string{inspect.HiddenByDeletion + " /app/hello.txt", inspect.HiddenByDeletion + " /app/key.pem"}},
		{name: "invalid whiteouts", layer: gz(fixtures.File("app/.wh..wh.", ""), fixtures.File("app/.wh...", "")),
			want: []string{inspect.LayerOddity + " /app/.wh...", inspect.LayerOddity + " /app/.wh..wh."}},
		{name: "setuid on a hard link and a device", layer: gz(fixtures.Entry{Name: "app/su", Type: tar.TypeLink, Linkname: "app/hello.txt", Mode: 0o4755},
			fixtures.Entry{Name: "app/dev", Type: tar.TypeChar, Mode: 0o4666, DevMajor: 1, DevMinor: 3}),
			want: []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := fixtures.Image(fixtures.Spec{User: "65532", Steps: []fixtures.Step{
				{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{fixtures.Dir("app"), fixtures.File("app/hello.txt", "hello\n"), fixtures.File("app/key.pem", "not a key\n")}},
				{Instruction: "COPY x /", Layer: c.layer},
			}})
			ref := reg.MustPush(t, "hostile/x", "v1", img)
			r, err := image.Open(t.Context(), ref, image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rep, err := inspect.Image(t.Context(), r, inspect.Options{Limits: c.lim, Scratch: t.TempDir()})
			if c.limit != "" {
				var le *limits.Error
				if !errors.As(err, &le) || le.Limit != c.limit {
					t.Fatalf("error %v, want the limit %s", err, c.limit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Platforms[0].Findings {
				if f.Check != inspect.NoProvenance {
					got = append(got, f.Check+" "+f.Path)
				}
			}
			slices.Sort(got)
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("findings %q, want %q\n%s", got, c.want, indent(rep.Platforms[0].Findings))
			}
		})
	}
}
