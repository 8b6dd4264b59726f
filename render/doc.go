// Package render writes reports for people, whatever they report: the
// text printer (Text: lines whose data is made visible, coloured for a
// terminal), the HTML page every report's page is built on (Page, with
// the template functions of Funcs) and the unified diff of two small
// texts (UnifiedDiff). What a report says is its own package's
// (compare.Report.WriteText, verify.Report.WriteHTML); how it looks is
// this one's.
package render
