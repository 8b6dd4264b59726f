package builder

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/reprover/reprover/internal/limits"
)

// trigger is an ONBUILD instruction: its instruction, as written, and the
// line of the ONBUILD.
type trigger struct {
	expr string
	line int
}

// runTriggers judges a stage's parent's ONBUILD instructions where BuildKit
// runs them (resolveStages, initOnBuildTriggers): first thing in each stage
// built FROM that stage (not in one that copies or mounts from it, nor in
// a stage built on that one), with the stage's variables. What they break
// is reported at the ONBUILD's line. An image's own ONBUILD triggers (in
// its config) are not in the Dockerfile: only the build sees them.
func (c *checker) runTriggers(triggers []trigger, s stage) error {
	for _, t := range triggers {
		if c.budget.onbuildRuns++; c.budget.onbuildRuns > c.budget.lim.MaxOnbuildRuns {
			return fmt.Errorf("%s:%d: %w", c.name, t.line, &limits.Error{What: "ONBUILD instructions run in the stages built on theirs",
				Limit: "MaxOnbuildRuns", Max: c.budget.lim.MaxOnbuildRuns, Got: c.budget.onbuildRuns})
		}
		res, err := parser.Parse(strings.NewReader(t.expr))
		if err != nil {
			return fmt.Errorf("%s:%d: ONBUILD %s: %w", c.name, t.line, t.expr, err)
		}
		if len(res.AST.Children) != 1 {
			return fmt.Errorf("%s:%d: ONBUILD %s: not one instruction", c.name, t.line, t.expr)
		}
		cmd, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			return fmt.Errorf("%s:%d: ONBUILD %s: %w", c.name, t.line, t.expr, err)
		}
		if err := c.checkCommand(cmd, s, t.line); err != nil {
			return err
		}
	}
	return nil
}
