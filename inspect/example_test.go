package inspect_test

import (
	"fmt"

	"github.com/reprover/reprover/inspect"
)

// A history line is shown with its secrets replaced by their names and
// fingerprints: the token, a secret-named build argument and a URL's
// password are never printed.
func ExampleRedactInstruction() {
	fmt.Println(inspect.RedactInstruction("RUN |1 NPM_TOKEN=s3cret /bin/sh -c git clone https://me:pw@git.example/x && echo ghp_R3proverTestTokenNotReal0123456789ab"))
	// Output:
	// RUN |1 NPM_TOKEN=[sha256:1ec1c26b50d5] /bin/sh -c git clone https://me:[URL password sha256:30c952fab122]@git.example/x && echo [GitHub token sha256:dd01db85cf83]
}
