package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rudderhook/rudderhook/airudder"
)

func piiCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pii",
		Short: "Find executions by a phone number when RUDDERHOOK_PII_KEY hides it in Temporal",
	}
	cmd.AddCommand(piiHashCmd(g))
	return cmd
}

func piiHashCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "hash NUMBER",
		Short: "Print what the CalleeNumber search attribute holds for a phone number",
		Long: `hash prints the keyed hash (HMAC-SHA256 under RUDDERHOOK_PII_KEY, 32 hex digits) that the
CalleeNumber search attribute holds instead of a phone number when RUDDERHOOK_PII_KEY is set, and the
Temporal UI query that finds its executions. Spaces, dashes, dots and brackets in the number do not
matter; a leading + or 0 does: write the number as Airudder sends it. It needs the same RUDDERHOOK_PII_KEY
as serve, and nothing else.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			if cfg.PIIKey == "" {
				return errors.New("RUDDERHOOK_PII_KEY is not set: the CalleeNumber search attribute holds the number itself " +
					"(set the same key as serve's to hash a number)")
			}
			number := strings.TrimSpace(args[0])
			if airudder.NormalizeNumber(number) == "" {
				return errors.New("give a phone number")
			}
			hash := airudder.HashNumber([]byte(cfg.PIIKey), number)
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, hash)
			fmt.Fprintf(w, "\nIn the Temporal UI:  CalleeNumber = %q\n", hash)
			return nil
		},
	}
}
