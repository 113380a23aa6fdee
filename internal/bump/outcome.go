package bump

import (
	"context"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// runSettled is run whose outputs never claim a change that did not land:
// the edit sets changed=true before the commit and push, so a run failing
// after it (a push refused, the API down) resets it.
func runSettled(ctx context.Context, c *action.Context, cfg Config) error {
	err := run(ctx, c, cfg)
	if err != nil {
		if _, set := c.Outputs()["changed"]; set {
			c.SetOutput("changed", "false")
		}
	}
	return err
}
