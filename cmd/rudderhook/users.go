package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/ui"
)

func usersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Make sign-in tokens for the rules page (/ui/)",
	}
	cmd.AddCommand(usersAddCmd(), usersHashCmd())
	return cmd
}

func usersAddCmd() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Make a token for a person and print the configuration that lets them sign in",
		Long: `add makes a random sign-in token for a person and prints it once, with the lines to add to the
configuration. Only the token's SHA-256 is configured: give the token to the person, keep the hash.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := strings.TrimSpace(args[0])
			if name == "" || strings.ContainsAny(name, ":,") {
				return errors.New("a name is needed, without ':' or ','")
			}
			if role != config.RoleViewer && role != config.RoleEditor {
				return fmt.Errorf("--role is %s or %s", config.RoleViewer, config.RoleEditor)
			}
			token := ui.NewToken()
			hash := ui.HashToken(token)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Token for %s (give it to them; it is not stored anywhere):\n\n  %s\n\n", name, token)
			fmt.Fprintf(w, "In the configuration file (RUDDERHOOK_CONFIG):\n\n  users:\n    - {name: %q, role: %s, token_sha256: %s}\n\n", name, role, hash)
			fmt.Fprintf(w, "or in the environment (entries separated by commas):\n\n  RUDDERHOOK_USERS=\"%s:%s:%s\"\n", name, role, hash)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", config.RoleViewer, "viewer (sees rules, history and dry runs) or editor (also switches rules on and restores)")
	return cmd
}

func usersHashCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hash",
		Short: "Print the SHA-256 of a token read from standard input, as token_sha256 wants it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			token := strings.TrimSpace(line)
			if token == "" {
				if err != nil {
					return fmt.Errorf("read the token from standard input: %w", err)
				}
				return errors.New("no token on standard input")
			}
			fmt.Fprintln(cmd.OutOrStdout(), ui.HashToken(token))
			return nil
		},
	}
}
