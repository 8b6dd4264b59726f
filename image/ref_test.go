package image

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digA = "sha256:" + hexA
)

// malformedDigests are refused wherever a digest is accepted: each one
// would reach a URL, a path or a file name.
var malformedDigests = map[string]string{
	"path traversal":          "sha256:../../x",
	"path traversal 64 chars": "sha256:../../../../../../../../../../../../../../../../etc/passwd",
	"slash inside":            "sha256:" + hexA[:32] + "/" + hexA[:31],
	"too short":               "sha256:" + hexA[:63],
	"too long":                "sha256:" + hexA + "a",
	"upper-case hex":          "sha256:" + strings.ToUpper(hexA),
	"upper-case algorithm":    "SHA256:" + hexA,
	"unknown algorithm":       "md5:d41d8cd98f00b204e9800998ecf8427e",
	"sha512 (unsupported)":    "sha512:" + hexA + hexA,
	"no algorithm":            ":" + hexA,
	"no hex":                  "sha256:",
	"no colon":                "sha256" + hexA,
	"empty":                   "",
	"trailing newline":        digA + "\n",
	"trailing space":          digA + " ",
	"NUL":                     "sha256:" + hexA[:63] + "\x00",
	"non-hex letter":          "sha256:" + hexA[:63] + "g",
}

func TestParseDigest(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		h, err := ParseDigest(digA)
		if err != nil {
			t.Fatal(err)
		}
		if h != (v1.Hash{Algorithm: "sha256", Hex: hexA}) {
			t.Errorf("ParseDigest = %+v", h)
		}
	})
	for name, s := range malformedDigests {
		t.Run(name, func(t *testing.T) {
			h, err := ParseDigest(s)
			if err == nil {
				t.Fatalf("ParseDigest(%q) = %v, want an error", s, h)
			}
			if h != (v1.Hash{}) {
				t.Errorf("ParseDigest(%q) returned %v with its error", s, h)
			}
		})
	}
	t.Run("long input is truncated in the message", func(t *testing.T) {
		_, err := ParseDigest("sha256:" + strings.Repeat("x", 1<<20))
		if err == nil || len(err.Error()) > 300 {
			t.Fatalf("error of %d bytes: %.80v", len(err.Error()), err)
		}
	})
}

func TestParseReference(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want Reference // raw is not compared
	}{
		{"registry with tag", "example.com/app:v1", Reference{Transport: Registry, Name: "example.com/app", Tag: "v1"}},
		{"registry without tag is latest", "example.com/app", Reference{Transport: Registry, Name: "example.com/app", Tag: "latest"}},
		{"registry nested repo", "example.com/org/team/app:1.2.3", Reference{Transport: Registry, Name: "example.com/org/team/app", Tag: "1.2.3"}},
		{"registry with port and tag", "localhost:5000/app:v1", Reference{Transport: Registry, Name: "localhost:5000/app", Tag: "v1"}},
		{"registry with port, no tag", "127.0.0.1:5000/org/app", Reference{Transport: Registry, Name: "127.0.0.1:5000/org/app", Tag: "latest"}},
		{"registry with digest", "example.com/app@" + digA, Reference{Transport: Registry, Name: "example.com/app", Digest: v1.Hash{Algorithm: "sha256", Hex: hexA}}},
		{"registry with port and digest", "127.0.0.1:5000/app@" + digA, Reference{Transport: Registry, Name: "127.0.0.1:5000/app", Digest: v1.Hash{Algorithm: "sha256", Hex: hexA}}},
		{"registry with tag and digest", "example.com/app:v1@" + digA, Reference{Transport: Registry, Name: "example.com/app", Tag: "v1", Digest: v1.Hash{Algorithm: "sha256", Hex: hexA}}},
		{"registry IPv6 with port", "[::1]:5000/app:v1", Reference{Transport: Registry, Name: "[::1]:5000/app", Tag: "v1"}},
		{"oci dir", "oci:/tmp/layout", Reference{Transport: Layout, Name: "/tmp/layout"}},
		{"oci relative dir", "oci:layout", Reference{Transport: Layout, Name: "layout"}},
		{"oci dir with tag", "oci:/tmp/layout:v1", Reference{Transport: Layout, Name: "/tmp/layout", Tag: "v1"}},
		{"oci dir with digest", "oci:/tmp/layout@" + digA, Reference{Transport: Layout, Name: "/tmp/layout", Digest: v1.Hash{Algorithm: "sha256", Hex: hexA}}},
		{"oci dir with a colon in a parent", "oci:/tmp/a:b/layout", Reference{Transport: Layout, Name: "/tmp/a:b/layout"}},
		{"oci dir with a colon in a parent and a tag", "oci:/tmp/a:b/layout:v2", Reference{Transport: Layout, Name: "/tmp/a:b/layout", Tag: "v2"}},
		{"oci-archive", "oci-archive:/tmp/img.tar", Reference{Transport: Archive, Name: "/tmp/img.tar"}},
		{"oci-archive with digest", "oci-archive:img.tar@" + digA, Reference{Transport: Archive, Name: "img.tar", Digest: v1.Hash{Algorithm: "sha256", Hex: hexA}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseReference(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != c.in {
				t.Errorf("String() = %q, want %q", got.String(), c.in)
			}
			got.raw = ""
			if got != c.want {
				t.Errorf("ParseReference(%q) = %+v, want %+v", c.in, got, c.want)
			}
			if got.Pinned() != (c.want.Digest.Hex != "") {
				t.Errorf("Pinned() = %v", got.Pinned())
			}
		})
	}
}

func TestParseReferenceRefused(t *testing.T) {
	cases := map[string]string{
		"registry without host":      "ubuntu",
		"registry without host, tag": "ubuntu:24.04",
		"registry empty tag":         "example.com/app:",
		"oci empty tag":              "oci:/tmp/layout:",
		"registry empty digest":      "example.com/app@",
		"oci empty":                  "oci:",
		"oci digest without dir":     "oci:@" + digA,
		"oci-archive empty":          "oci-archive:",
		"oci-archive digest only":    "oci-archive:@" + digA,
		"empty":                      "",
	}
	for name, d := range malformedDigests {
		cases["registry digest "+name] = "example.com/app@" + d
		cases["oci digest "+name] = "oci:/tmp/layout@" + d
		cases["oci-archive digest "+name] = "oci-archive:/tmp/img.tar@" + d
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := ParseReference(in)
			if err == nil {
				t.Fatalf("ParseReference(%q) = %+v, want an error", in, r)
			}
			if in != "" && !strings.Contains(err.Error(), in[:min(len(in), 40)]) {
				t.Errorf("error does not name the reference: %v", err)
			}
		})
	}
}

func TestParsePlatform(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    v1.Platform
		wantErr bool
	}{
		{in: "linux/amd64", want: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{in: "linux/arm64", want: v1.Platform{OS: "linux", Architecture: "arm64"}},
		{in: "linux/arm/v7", want: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{in: "linux/aarch64", want: v1.Platform{OS: "linux", Architecture: "arm64"}},
		{in: "", wantErr: true},
		{in: "linux/amd64/v3/extra", wantErr: true},
		{in: "linux/AMD64!", wantErr: true},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParsePlatform(c.in)
			if c.wantErr {
				if err == nil {
					t.Fatalf("ParsePlatform(%q) = %v, want an error", c.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.OS != c.want.OS || got.Architecture != c.want.Architecture || got.Variant != c.want.Variant {
				t.Errorf("ParsePlatform(%q) = %+v, want %+v", c.in, got, c.want)
			}
		})
	}
}
