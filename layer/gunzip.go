package layer

import (
	"fmt"
	"os/exec"
)

// Decompressors: how gzip layers are decompressed (NewGunzipper).
const (
	// DecompressAuto is igzip for the layers where it was measured to be
	// faster than Go (autoIgzipMin), when it is on PATH; else Go.
	DecompressAuto = "auto"
	// DecompressGo is the pure-Go decoder (klauspost/compress), always
	// there.
	DecompressGo = "go"
	// DecompressIgzip is ISA-L's igzip -dc, run as a subprocess (Debian's
	// isal package), for every gzip layer.
	DecompressIgzip = "igzip"
)

// autoIgzipMin is the smallest layer, in compressed bytes, that auto gives
// to igzip: below it, starting a process and moving the bytes through
// pipes costs more than igzip's faster inflate saves. Measured by
// BenchmarkGunzipSizes (layers cut from real ones: Debian, the Go
// toolchain, /usr/share; each walked alone, best of 5 to 200 walks, on 2
// cores): igzip took 1.15 to 1.6 times Go's wall time at 64 to 300 KiB;
// 0.6 to 1.0 times at 1 MiB; from 4 MiB, 0.45 times for binaries and 0.9
// for /usr/share's data, most of it already compressed (inflate is then
// a copy, in both). docs/performance.md has the table.
const autoIgzipMin = 1 << 20

// Gunzipper is how a walk decompresses gzip.
type Gunzipper struct {
	// igzip is the path of the igzip program, "" for the Go decoder.
	igzip string
	// min is the smallest layer (compressed bytes) igzip decompresses;
	// smaller ones are decompressed in Go.
	min int64
}

// NewGunzipper resolves a choice of decompressor: DecompressGo,
// DecompressIgzip (an error when igzip is not on PATH), or DecompressAuto
// ("" too): igzip for layers of autoIgzipMin compressed bytes or more
// when it is on PATH, else Go.
func NewGunzipper(choice string) (Gunzipper, error) {
	switch choice {
	case DecompressGo:
		return Gunzipper{}, nil
	case "", DecompressAuto, DecompressIgzip:
		path, err := exec.LookPath("igzip")
		if err != nil {
			if choice == DecompressIgzip {
				return Gunzipper{}, fmt.Errorf("decompressor igzip: %w (Debian's isal package has it)", err)
			}
			return Gunzipper{}, nil
		}
		if choice == DecompressIgzip {
			return Gunzipper{igzip: path}, nil
		}
		return Gunzipper{igzip: path, min: autoIgzipMin}, nil
	}
	return Gunzipper{}, fmt.Errorf("unknown decompressor %q: want %s, %s or %s", choice, DecompressAuto, DecompressGo, DecompressIgzip)
}

// forSize is how g decompresses a layer of size compressed bytes (as its
// descriptor says; a size that lies changes only the decoder, both read
// the same bytes alike). A negative size is unknown: igzip, if g has it.
func (g Gunzipper) forSize(size int64) Gunzipper {
	if size >= 0 && size < g.min {
		return Gunzipper{}
	}
	return g
}
