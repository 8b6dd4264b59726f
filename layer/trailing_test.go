package layer

import (
	"strings"
	"testing"
)

// TestTrailingCounter feeds the same bytes in every split and checks that
// zero padding of any length, wherever the writes split it, hashes alike,
// and that any non-zero byte changes the digest.
func TestTrailingCounter(t *testing.T) {
	z := func(n int) string { return strings.Repeat("\x00", n) }
	tests := []struct {
		name, in string
		nonZero  int64
		sameAs   string // another input that must hash alike ("" for none)
		otherTo  string // another input that must hash differently
	}{
		{name: "empty", in: ""},
		{name: "zeros only", in: z(10000)},
		{name: "data then padding", in: "ab" + z(5000), nonZero: 2, sameAs: "ab", otherTo: "ab" + z(1) + "c"},
		{name: "zeros inside data count", in: "a" + z(3) + "b", nonZero: 2, sameAs: "a" + z(3) + "b" + z(9000), otherTo: "a" + z(2) + "b"},
		{name: "leading zeros count", in: z(5000) + "x", nonZero: 1, otherTo: "x"},
	}
	digest := func(in string, split int) Trailing {
		c := newTrailingCounter()
		for len(in) > 0 {
			k := min(split, len(in))
			if n, err := c.Write([]byte(in[:k])); n != k || err != nil {
				t.Fatalf("Write returned %d, %v", n, err)
			}
			in = in[k:]
		}
		return c.result()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole := digest(tt.in, 1<<20)
			if whole.Bytes != int64(len(tt.in)) || whole.NonZero != tt.nonZero {
				t.Errorf("counted %d bytes, %d non-zero; want %d, %d", whole.Bytes, whole.NonZero, len(tt.in), tt.nonZero)
			}
			if (whole.Digest == "") != (tt.nonZero == 0) {
				t.Errorf("digest %q with %d non-zero bytes", whole.Digest, tt.nonZero)
			}
			for _, split := range []int{1, 2, 3, 4095, 4097} {
				if got := digest(tt.in, split); got != whole {
					t.Errorf("split %d: %+v, whole: %+v", split, got, whole)
				}
			}
			if tt.sameAs != "" && digest(tt.sameAs, 7).Digest != whole.Digest {
				t.Errorf("%q and %q should hash alike", tt.in, tt.sameAs)
			}
			if tt.otherTo != "" && digest(tt.otherTo, 7).Digest == whole.Digest {
				t.Errorf("%q and %q should hash differently", tt.in, tt.otherTo)
			}
		})
	}
}
