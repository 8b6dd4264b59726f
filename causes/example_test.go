package causes_test

import (
	"context"
	"fmt"
	"time"

	"github.com/reprover/reprover/causes"
)

// A file that a RUN wrote `date` into, built twice within the window.
func ExampleClassify() {
	built := time.Date(2026, 11, 30, 2, 33, 43, 0, time.UTC)
	f, err := causes.Classify(context.Background(), causes.Input{
		Path:           "/app/build-stamp",
		ContentDiffers: true,
		A:              []byte(built.Format(time.UnixDate) + "\n"),
		B:              []byte(built.Add(95*time.Second).Format(time.UnixDate) + "\n"),
		Window:         causes.Window{From: built.Add(-time.Hour), To: built.Add(time.Hour)},
	})
	if err != nil {
		panic(err)
	}
	c, _ := causes.ByID(f.Cause)
	fmt.Println(f.Cause)
	fmt.Println(f.Evidence)
	fmt.Println(c.URL())
	// Output:
	// timestamp
	// times within the builds' window: "Mon Nov 30 02:33:43 UTC 2026" vs "Mon Nov 30 02:35:18 UTC 2026"
	// https://github.com/reprover/reprover/blob/main/docs/causes.md#timestamp
}
