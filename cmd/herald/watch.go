package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
)

func newCampaignsWatchCmd() *cobra.Command {
	var every time.Duration
	cmd := leaf(&cobra.Command{
		Use:   "watch ID",
		Short: "Follow a campaign with a progress bar until it ends, then show its counts",
		Long: `Follow a campaign with a progress bar until it ends, then show its counts.

watch also stops when the dispatcher halts the campaign: a campaign paused
with a reason (an account-level refusal of the provider, the error
breaker) ends watch with the reason and an error (exit status 1), since it
sends nothing more until an operator fixes the cause and resumes it. A
campaign paused by an operator (no reason) is followed until it is resumed
and ends.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, id, err := campaignClient(cmd, args[0])
			if err != nil {
				return err
			}
			bar := newProgress(cmd.ErrOrStderr())
			for {
				c, err := cl.GetCampaign(cmd.Context(), id)
				if err != nil {
					bar.done()
					return err
				}
				bar.draw(sentCount(c), c.Total, c.Counts[herald.RecipientAccepted])
				if c.State.Terminal() || halted(c) {
					bar.done()
					fmt.Fprintf(cmd.OutOrStdout(), "campaign %d %s\n", c.ID, stateLine(c))
					printCampaign(cmd.OutOrStdout(), c)
					if halted(c) {
						return fmt.Errorf("campaign %d was paused by herald and sends nothing more: fix the cause, then run herald campaigns resume %d", c.ID, c.ID)
					}
					return nil
				}
				select {
				case <-cmd.Context().Done():
					bar.done()
					return cmd.Context().Err()
				case <-time.After(every):
				}
			}
		},
	})
	cmd.Flags().DurationVar(&every, "every", time.Second, "how often to poll")
	return cmd
}

// halted reports whether the dispatcher paused the campaign, saying why:
// nothing more is sent until an operator resumes it.
func halted(c herald.Campaign) bool {
	return c.State == herald.CampaignPaused && c.Reason != ""
}

// stateLine is the campaign's state, with its reason when it has one:
// "paused: provider refused the account: A401 Unauthorized".
func stateLine(c herald.Campaign) string {
	if c.Reason == "" {
		return string(c.State)
	}
	return string(c.State) + ": " + cell(c.Reason, 200)
}

// sentCount is how many recipients the dispatcher is done with: neither
// waiting (PENDING, RETRY_WAIT) nor in flight (SENDING).
func sentCount(c herald.Campaign) int {
	return c.Total - c.Counts[herald.RecipientPending] - c.Counts[herald.RecipientSending] - c.Counts[herald.RecipientRetryWait]
}
