// Package verify is the pipeline shared by the CLI and the service: from a
// Request (a source at a commit, a published image) to a Report.
//
// Run calls one function per stage, each returning a value: open the
// published image, export the commit's tree, check the Dockerfile against
// the pinning rules, plan the build (platforms, encoding and
// SOURCE_DATE_EPOCH from the published image; BuildKit's version; the
// publisher's provenance), rebuild in BuildKit, compare the rebuilt image
// (A) with the published one (B). The report is assembled once from what
// the stages returned, so an error report still holds what was resolved.
//
// Report holds the comparison (compare.Platform per platform) in the words
// of a verification (reproducible, equivalent, mismatch, error), with the
// request, the source and the build evidence, all typed; its JSON is the
// report schema of docs/report.schema.json and reads back equal
// (ReadReport). Twice runs the same stages without a published image: it
// builds a commit twice, the second a second later, and compares the two
// builds (TwiceReport). Attestations signs a report as DSSE envelopes. Builders
// hands out BuildKit connections (a pool, or a managed buildkitd) to the
// CLI and the service alike.
package verify
