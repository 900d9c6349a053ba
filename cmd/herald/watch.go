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
		Args:  cobra.ExactArgs(1),
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
				if c.State.Terminal() {
					bar.done()
					fmt.Fprintf(cmd.OutOrStdout(), "campaign %d %s\n", c.ID, c.State)
					printCampaign(cmd.OutOrStdout(), c)
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

// sentCount is how many recipients the dispatcher is done with: neither
// waiting (PENDING, RETRY_WAIT) nor in flight (SENDING).
func sentCount(c herald.Campaign) int {
	return c.Total - c.Counts[herald.RecipientPending] - c.Counts[herald.RecipientSending] - c.Counts[herald.RecipientRetryWait]
}
