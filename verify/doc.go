// Package verify is the pipeline shared by the CLI and the service:
// resolve → build → compare → attest, from a Request to a Result.
//
// Not yet implemented: see issue 3.
package verify
