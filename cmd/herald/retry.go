package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	herald "github.com/heraldhq/herald"
)

func newCampaignsRetryCmd() *cobra.Command {
	var states, codes []string
	cmd := &cobra.Command{
		Use:   "retry ID",
		Short: "Retry the failed: a follow-up campaign to the recipients that failed",
		Long: `Create a follow-up campaign (same template, variables and rate, starting now)
to the members of campaign ID's recipients in the given states with the given
result codes. Without --state it takes FAILED; without --code, the FAILED
recipients whose code is retryable (see "herald campaigns failures ID").
UNKNOWN recipients (a message may have arrived) are taken only with
--state UNKNOWN. Never taken: anyone who may have the message, or whom an
earlier retry of the same campaign took. The campaign must be completed,
cancelled or failed.`,
		Example: `  herald campaigns retry 12
  herald campaigns retry 12 --code 63019 --code 63020
  herald campaigns retry 12 --state UNKNOWN --code NO_REPORT`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, id, err := campaignClient(cmd, args[0])
			if err != nil {
				return err
			}
			st := make([]herald.RecipientState, len(states))
			for i, s := range states {
				st[i] = herald.RecipientState(strings.ToUpper(s))
			}
			c, err := cl.RetryCampaign(cmd.Context(), id, st, codes)
			if err != nil {
				return err
			}
			return output(cmd, c, func(w io.Writer) { printCampaign(w, c) })
		},
	}
	cmd.Flags().StringArrayVar(&states, "state", nil, "recipient state to retry: FAILED or UNKNOWN (repeatable; default FAILED)")
	cmd.Flags().StringArrayVar(&codes, "code", nil, "result code to retry (repeatable; default: the retryable codes)")
	return leaf(cmd)
}

func newCampaignsFailuresCmd() *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "failures ID",
		Short: "Count a campaign's FAILED and UNKNOWN recipients per result code, with its meaning",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, id, err := campaignClient(cmd, args[0])
			if err != nil {
				return err
			}
			fs, err := cl.CampaignFailures(cmd.Context(), id)
			if err != nil {
				return err
			}
			return output(cmd, fs, func(w io.Writer) {
				row(w, "STATE", "CODE", "COUNT", "RETRYABLE", "MEANING", "의미")
				for _, f := range fs {
					retry := "no"
					if f.Retryable {
						retry = "yes"
					}
					row(w, f.State, orDash(f.Code), f.Count, retry, f.En, f.Ko)
				}
			})
		},
	})
}
