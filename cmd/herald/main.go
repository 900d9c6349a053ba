// Command herald sends templated KakaoTalk AlimTalk campaigns at an exact
// rate and takes the delivery reports back. One binary, several roles.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			os.Exit(int(exit))
		}
		os.Exit(1)
	}
}

// exitError ends the process with a status without printing more.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "herald",
		Short:         "Send KakaoTalk AlimTalk campaigns at an exact rate, never twice",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(
		newDemoCmd(),
		newServeCmd(),
		newMigrateCmd(),
		newMockProviderCmd(),
		newLoadtestCmd(),
		newMembersCmd(),
		newTemplatesCmd(),
		newCampaignsCmd(),
		newDoctorCmd(),
		newReportsCmd(),
	)
	return root
}
