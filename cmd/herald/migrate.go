package main

import (
	"github.com/spf13/cobra"
)

func newMigrateCmd() *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded database migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			s, err := openStore(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			cmd.Println("migrations applied")
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&dsn, "db", "sqlite:herald.db", "database: sqlite:PATH, postgres://USER@HOST/DB or mysql://USER:PASS@HOST:3306/DB")
	describeEnv(cmd.Flags())
	return cmd
}
