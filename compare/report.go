package compare

import (
	"encoding/json"
	"fmt"
	"time"
)

// Verdicts of a comparison (diff) and of a verification (verify).
const (
	Identical    = "identical"
	Equivalent   = "equivalent"
	Different    = "different"
	Reproducible = "reproducible"
	Mismatch     = "mismatch"
	Error        = "error"
	Added        = "added"
	Removed      = "removed"
	Modified     = "modified"
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

// Report is the JSON report of DESIGN.md. diff fills A and B; verify fills
// Source, Published, Rebuilt and Build. In both, a platform's Rebuilt is
// image A and Published image B, and changes are seen from A to B
// (added = only in B).
type Report struct {
	SchemaVersion   int        `json:"schemaVersion"`
	Verdict         string     `json:"verdict"`
	Error           string     `json:"error,omitempty"`
	Source          *Source    `json:"source,omitempty"`
	A               *ImageRef  `json:"a,omitempty"`
	B               *ImageRef  `json:"b,omitempty"`
	Published       *ImageRef  `json:"published,omitempty"`
	Rebuilt         *ImageRef  `json:"rebuilt,omitempty"`
	SourceDateEpoch *int64     `json:"sourceDateEpoch,omitempty"`
	Build           any        `json:"build,omitempty"`
	Encoding        []string   `json:"encoding,omitempty"`
	Hints           []string   `json:"hints"`
	Platforms       []Platform `json:"platforms"`
}

// Source is the source a rebuild came from.
type Source struct {
	URI    string `json:"uri"`
	Commit string `json:"commit"`
}

// ImageRef names an image and its top-level digest.
type ImageRef struct {
	Ref    string `json:"ref,omitempty"`
	Digest string `json:"digest"`
}

// Platform is the comparison of one platform image.
type Platform struct {
	Platform  string        `json:"platform"`
	Verdict   string        `json:"verdict"`
	Published string        `json:"published,omitempty"`
	Rebuilt   string        `json:"rebuilt,omitempty"`
	Notes     []string      `json:"notes,omitempty"`
	Encoding  []string      `json:"encoding"`
	Config    []FieldChange `json:"config"`
	Layers    []LayerReport `json:"layers"`
	Files     []FileChange  `json:"files"`
	Findings  []Finding     `json:"findings,omitempty"`
}

// FieldChange is one config (or manifest) field that differs.
type FieldChange struct {
	Field     string `json:"field"`
	Published any    `json:"published"`
	Rebuilt   any    `json:"rebuilt"`
}

// LayerReport compares the layers at one index.
type LayerReport struct {
	Index       int          `json:"index"`
	Published   string       `json:"published,omitempty"`
	Rebuilt     string       `json:"rebuilt,omitempty"`
	Instruction string       `json:"instruction,omitempty"`
	Verdict     string       `json:"verdict"`
	Encoding    []string     `json:"encoding,omitempty"`
	Files       []FileChange `json:"files"`
	Findings    []Finding    `json:"findings,omitempty"`
}

// FileChange is one path that differs.
type FileChange struct {
	Path      string    `json:"path"`
	Change    string    `json:"change"`
	Aspects   []string  `json:"aspects"`
	Published *FileMeta `json:"published,omitempty"`
	Rebuilt   *FileMeta `json:"rebuilt,omitempty"`
	TextDiff  string    `json:"textDiff,omitempty"`
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

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
