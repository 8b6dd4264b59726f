package compare_test

import (
	"os"
	"time"

	"github.com/reprover/reprover/compare"
)

// The text form of a report, as `reprover diff` prints it.
func ExampleReport_WriteText() {
	when := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rep := &compare.Report{
		SchemaVersion: 1,
		Verdict:       compare.Different,
		A:             &compare.ImageRef{Ref: "registry.example/app:built", Digest: "sha256:" + repeat("a")},
		B:             &compare.ImageRef{Ref: "registry.example/app:1.0", Digest: "sha256:" + repeat("b")},
		Hints:         []string{"linux/amd64: /app/run.sh changed mode only."},
		Platforms: []compare.Platform{{
			Platform: "linux/amd64", Verdict: compare.Different,
			Layers: []compare.LayerReport{{Index: 1, Verdict: compare.Different, Instruction: "COPY app/ /app/",
				Rebuilt: "sha256:" + repeat("c"), Published: "sha256:" + repeat("d"),
				Files: []compare.FileChange{{Path: "/app/run.sh", Change: compare.Modified, Aspects: []string{"mode"},
					Rebuilt:   &compare.FileMeta{Type: "file", Mode: "0755", ModTime: when},
					Published: &compare.FileMeta{Type: "file", Mode: "4755", ModTime: when}}}}},
		}},
	}
	rep.WriteText(os.Stdout, compare.TextOptions{})
	// Output:
	// verdict: different
	// A:         registry.example/app:built (sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)
	// B:         registry.example/app:1.0 (sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb)
	// hint: linux/amd64: /app/run.sh changed mode only.
	//
	// platform linux/amd64  different
	//   layer 2 of 2  different  COPY app/ /app/
	//     sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc → sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd
	//     ~ /app/run.sh  (mode)
	//         mode: 0755 → 4755
}

func repeat(s string) string {
	out := ""
	for range 64 {
		out += s
	}
	return out
}
