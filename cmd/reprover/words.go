package main

import "github.com/reprover/reprover/internal/param"

// flagOf is the flag that gives each parameter a library names in its
// errors (*param.Error): a verify.Request or verify.LockRequest field, an
// image.Options field, an argument of attest. It is the CLI's one
// translation of the libraries' words (the service's API has its own:
// service.fieldOf).
var flagOf = map[string]string{
	// verify.Request
	"Source":                 "--source",
	"Commit":                 "--commit",
	"Image":                  "--image",
	"Dockerfile":             "--dockerfile",
	"Context":                "--context",
	"Target":                 "--target",
	"BuildArgs":              "--build-arg",
	"Platforms":              "--platform",
	"SourceDateEpoch":        "--source-date-epoch",
	"Network":                "--network",
	"Lock":                   "--lock",
	"AllowDownloadHosts":     "--allow-download-host",
	"AllowSourceHosts":       "--allow-source-host",
	"AllowUnpinnedDownloads": "--allow-unpinned-downloads",
	"Kit":                    "--kit",
	"ReplayAddr":             "--kit-serve-addr", // verify.Options
	"Bake":                   "--bake",
	"BakeTarget":             "--bake-target",
	"BakeVars":               "--bake-var", // CheckRequest
	"BakeEnv":                "--bake-var", // verify.Options
	// verify.LockRequest and verify.CheckRequest
	"Dir":    "--source",
	"Limits": "--limit",
	// image.Options
	"InsecureRegistries": "--insecure-registry",
	// inspect.Options
	"Decompressor": "--decompressor",
	// attest.Check, attest.GenerateKey
	"threshold": "--threshold",
	"KeyType":   "--type",
}

// flagName is the flag of a parameter; one the table lacks keeps the
// library's name (TestFlagOf keeps the table whole).
func flagName(p string) string {
	if f, ok := flagOf[p]; ok {
		return f
	}
	return p
}

// say is err's message in the CLI's words: each parameter as its flag.
func say(err error) string { return param.Say(err, flagName) }
