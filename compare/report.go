package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/reprover/reprover/layer"
)

// Verdicts of a comparison, of a platform and of a layer, and the changes
// of a file. A verification maps them to its own words (verify.Verdict).
const (
	Identical  = "identical"
	Equivalent = "equivalent"
	Different  = "different"
	Added      = "added"   // a layer or file only in B
	Removed    = "removed" // a layer or file only in A
	Modified   = "modified"
)

// Encoding aspects: differences in how the same content is stored.
const (
	EncCompression  = "compression"
	EncMediaTypes   = "mediaTypes"
	EncTarHeaders   = "tarHeaders"
	EncConfigJSON   = "configJSON"
	EncAttestations = "attestations"
	EncIndex        = "index"
)

// Report is a comparison of image A with image B: the report of diff,
// and the part of a verification's report (verify.Report) that says how
// the rebuilt image (A) and the published one (B) differ. Changes are seen
// from A to B (added = only in B). The JSON field names of a platform's
// sides, "rebuilt" (A) and "published" (B), are the report schema's.
type Report struct {
	SchemaVersion int        `json:"schemaVersion"`
	Verdict       string     `json:"verdict"` // identical, equivalent or different
	A             *ImageRef  `json:"a,omitempty"`
	B             *ImageRef  `json:"b,omitempty"`
	Encoding      []string   `json:"encoding,omitempty"`
	Hints         []string   `json:"hints"`
	Platforms     []Platform `json:"platforms"`
}

// ImageRef names an image and its top-level digest.
type ImageRef struct {
	Ref    string `json:"ref,omitempty"`
	Digest string `json:"digest"`
}

// Platform is the comparison of one platform image.
type Platform struct {
	Platform  string        `json:"platform"`
	Verdict   string        `json:"verdict"`             // identical, equivalent or different
	Published string        `json:"published,omitempty"` // B's manifest digest
	Rebuilt   string        `json:"rebuilt,omitempty"`   // A's manifest digest
	Notes     []string      `json:"notes,omitempty"`
	Encoding  []string      `json:"encoding"`
	Config    []FieldChange `json:"config"`
	Layers    []LayerReport `json:"layers"`
	Files     []FileChange  `json:"files"`
	Findings  []Finding     `json:"findings,omitempty"`
	// Causes tally the causes of the platform's file differences (the
	// merged filesystem's, else the layers'), the most frequent first.
	Causes []CauseCount `json:"causes,omitempty"`
	// Packages are the packages whose version differs between the two
	// images, or that only one has: read from their package databases
	// when files differ, to name the cause of those files
	// (docs/causes.md#package-changed).
	Packages []PackageChange `json:"packages,omitempty"`
}

// PackageChange is a package that differs between the two images, as
// their package databases say (package pkgdb).
type PackageChange struct {
	Ecosystem string `json:"ecosystem"` // deb, apk, pypi, npm
	Name      string `json:"name"`
	Arch      string `json:"arch,omitempty"`
	// Where, for Python and npm, is the directory it is installed in.
	Where string `json:"where,omitempty"`
	// Rebuilt and Published are its versions in A and in B; "" on the
	// side that does not have it.
	Rebuilt   string `json:"rebuilt,omitempty"`
	Published string `json:"published,omitempty"`
	// Downloads are the verification's downloads that are this
	// package's file, at either version, among those that moved since
	// the release (Options.Downloads): the rebuild's new .deb, say, and
	// the release's that it no longer fetched.
	Downloads []Download `json:"downloads,omitempty"`
}

// Download is a download of a verification that moved since the release:
// changed (a pin names its URL, and it served other bytes), new (no pin
// names it) or missing (a pin names it, and the rebuild did not fetch it).
type Download struct {
	URL    string `json:"url"`
	State  string `json:"state"`
	SHA256 string `json:"sha256,omitempty"` // what the rebuild fetched
	Pinned string `json:"pinned,omitempty"` // what the release got
}

// FieldChange is one config (or manifest) field that differs; each side is
// its value as compact JSON ("null" when the field is missing).
type FieldChange struct {
	Field     string          `json:"field"`
	Published json.RawMessage `json:"published"`
	Rebuilt   json.RawMessage `json:"rebuilt"`
	// Cause and Evidence, as for files (not for fields that follow from
	// the layers: rootfs.diff_ids and the manifest's layers).
	Cause    string `json:"cause,omitempty"`
	Evidence string `json:"evidence,omitempty"`
}

// UnmarshalJSON reads the values back compact, as they were written
// before a report was indented.
func (c *FieldChange) UnmarshalJSON(b []byte) error {
	type plain FieldChange
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	for _, v := range []*json.RawMessage{&p.Published, &p.Rebuilt} {
		var buf bytes.Buffer
		if err := json.Compact(&buf, *v); err != nil {
			return err
		}
		*v = buf.Bytes()
	}
	*c = FieldChange(p)
	return nil
}

// LayerReport compares the layers at one index.
type LayerReport struct {
	Index       int      `json:"index"`
	Published   string   `json:"published,omitempty"`
	Rebuilt     string   `json:"rebuilt,omitempty"`
	Instruction string   `json:"instruction,omitempty"`
	Verdict     string   `json:"verdict"`
	Encoding    []string `json:"encoding,omitempty"`
	// Skipped says why the layer was not read (SkippedSameDigest); its
	// files and findings are then not listed.
	Skipped  string       `json:"skipped,omitempty"`
	Files    []FileChange `json:"files"`
	Findings []Finding    `json:"findings,omitempty"`
}

// SkippedSameDigest is why a layer is not read: the same blob at the
// same index in both images, with nothing but layers of the same blobs
// under it, and the merged views did not depend on it (docs/report.md).
const SkippedSameDigest = "same digest"

// FileChange is one path that differs.
type FileChange struct {
	Path      string    `json:"path"`
	Change    string    `json:"change"`
	Aspects   []string  `json:"aspects"`
	Published *FileMeta `json:"published,omitempty"`
	Rebuilt   *FileMeta `json:"rebuilt,omitempty"`
	TextDiff  string    `json:"textDiff,omitempty"`
	// Cause names why the file differs (an id of docs/causes.md) and
	// Evidence what was found; set on every change of a comparison.
	Cause    string `json:"cause,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	// Inner are the members that differ when the file is an archive
	// (tar, tar.gz, gzip, zip), paths relative to it.
	Inner []FileChange `json:"inner,omitempty"`
	// Diffoscope is diffoscope's text on the pair (Options.Diffoscope).
	Diffoscope string `json:"diffoscope,omitempty"`
}

// FileMeta is what the report shows of one side of a file.
type FileMeta struct {
	Type     string            `json:"type"`
	Mode     string            `json:"mode"`
	UID      int64             `json:"uid"`
	GID      int64             `json:"gid"`
	Size     int64             `json:"size"`
	Digest   string            `json:"sha256,omitempty"`
	Linkname string            `json:"linkname,omitempty"`
	Xattrs   map[string]string `json:"xattrs,omitempty"`
	ModTime  time.Time         `json:"mtime"`
	DevMajor int64             `json:"devmajor,omitempty"`
	DevMinor int64             `json:"devminor,omitempty"`
	// Occurrences is set when the path appears more than once in one layer.
	Occurrences int `json:"occurrences,omitempty"`
}

// ReadReport decodes a report as diff wrote it.
func ReadReport(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading a comparison report: %w", err)
	}
	return &r, nil
}

// Finding is something hostile or odd in a layer (layer.Finding), in the
// merged view or in an archive inside a file, reported as it is.
type Finding = layer.Finding
