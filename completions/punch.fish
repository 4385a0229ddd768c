# fish completion for punch(1). Install in ~/.config/fish/completions/.
# tests/unit/cli/docs_agree_test.cpp holds it to the options in src/cli/spec.cpp:
# every option line names its commands with __fish_seen_subcommand_from.

set -l commands keygen id rendezvous listen connect netcheck help
complete -c punch -f

# Commands, and the options that come before any command.
complete -c punch -n "not __fish_seen_subcommand_from $commands" -a keygen -d 'Create a new key and print its node ID'
complete -c punch -n "not __fish_seen_subcommand_from $commands" -a id -d 'Print the node ID of a key'
complete -c punch -n "not __fish_seen_subcommand_from $commands" -a rendezvous -d 'Run the server that introduces peers and relays their traffic'
complete -c punch -n "not __fish_seen_subcommand_from $commands" -a listen -d 'Accept sessions from allowed peers: tunnel stdio and serve forwards'
complete -c punch -n "not __fish_seen_subcommand_from $commands" -a connect -d 'Open a session to a listener: tunnel stdio, forward ports, run a SOCKS5 proxy'
complete -c punch -n "not __fish_seen_subcommand_from $commands" -a netcheck -d "Check UDP and the NAT's behaviour against a rendezvous"
complete -c punch -n "not __fish_seen_subcommand_from $commands" -a help -d 'Show the help of a command'
complete -c punch -n "not __fish_seen_subcommand_from $commands" -s h -l help -d 'Show help and exit'
complete -c punch -n "not __fish_seen_subcommand_from $commands" -l version -d 'Show the version and exit'

# Options of every command.
complete -c punch -n '__fish_seen_subcommand_from keygen id rendezvous listen connect netcheck' -s k -l key -r -F -d 'Key file'
complete -c punch -n '__fish_seen_subcommand_from keygen id rendezvous listen connect netcheck' -l events -r -F -d 'Append events as JSON Lines to this file'
complete -c punch -n '__fish_seen_subcommand_from keygen id rendezvous listen connect netcheck' -s v -l verbose -d 'Log debug messages on stderr'
complete -c punch -n '__fish_seen_subcommand_from keygen id rendezvous listen connect netcheck' -s q -l quiet -d 'Log only errors on stderr'
complete -c punch -n '__fish_seen_subcommand_from keygen id rendezvous listen connect netcheck' -s h -l help -d 'Show help and exit'

# Options of one command.
complete -c punch -n '__fish_seen_subcommand_from keygen' -l force -d 'Replace an existing key file'
complete -c punch -n '__fish_seen_subcommand_from rendezvous' -s l -l listen -x -d 'UDP address to listen on (HOST:PORT)'
complete -c punch -n '__fish_seen_subcommand_from rendezvous' -l probe-port -x -d 'Second UDP port for address probes (PORT, 0 or off)'
complete -c punch -n '__fish_seen_subcommand_from rendezvous' -l probe-address -x -d 'Also answer address probes on another IP of this host (IP[:PORT])'
complete -c punch -n '__fish_seen_subcommand_from listen connect netcheck' -s r -l rendezvous -x -d 'Rendezvous server (HOST[:PORT])'
complete -c punch -n '__fish_seen_subcommand_from listen' -l allow -x -d 'Accept the peer with this node ID'
complete -c punch -n '__fish_seen_subcommand_from listen' -l allow-any -d 'Accept any peer, whatever its ID'
complete -c punch -n '__fish_seen_subcommand_from listen' -l permit-open -x -d 'Let connectors reach only HOST:PORT (wildcards * and ?)'
complete -c punch -n '__fish_seen_subcommand_from listen' -l gateway-ports -d 'Let -R bind addresses other than loopback'
complete -c punch -n '__fish_seen_subcommand_from listen connect' -s N -l no-stdio -d 'Forwards only, no stdio'
complete -c punch -n '__fish_seen_subcommand_from listen connect' -l idle-timeout -x -a 'off 30s 5m 1h' -d 'Reset forwarded connections idle this long (default off)'
complete -c punch -n '__fish_seen_subcommand_from listen connect' -l relay-only -d 'Never try a direct path; stay on the rendezvous relay'
complete -c punch -n '__fish_seen_subcommand_from listen connect' -l birthday-sockets -x -d 'Extra UDP sockets behind a hard NAT, 0-1024 (default 256)'
complete -c punch -n '__fish_seen_subcommand_from listen connect' -l birthday-rate -x -d 'Port guesses per second at most, 1-10000 (default 200)'
complete -c punch -n '__fish_seen_subcommand_from listen connect' -l birthday-probes -x -d 'Port guesses per round, 0-65535 (default 2048)'
complete -c punch -n '__fish_seen_subcommand_from connect' -s L -l local -x -d 'Forward a local port: [BIND:]PORT:HOST:HOSTPORT'
complete -c punch -n '__fish_seen_subcommand_from connect' -s R -l remote -x -d 'Forward a port of the listener: [BIND:]PORT:HOST:HOSTPORT'
complete -c punch -n '__fish_seen_subcommand_from connect' -s D -l dynamic -x -d 'SOCKS5 proxy on [BIND:]PORT, exiting on the far side'
complete -c punch -n '__fish_seen_subcommand_from connect' -l socks-user -x -d 'USER:PASS that -D demands'
complete -c punch -n '__fish_seen_subcommand_from connect' -l socks-user-file -r -F -d 'File holding USER:PASS for -D'
complete -c punch -n '__fish_seen_subcommand_from netcheck' -l probe -x -d 'Probe port to compare with (HOST[:PORT])'
complete -c punch -n '__fish_seen_subcommand_from netcheck' -l json -d 'Print one JSON object'
complete -c punch -n '__fish_seen_subcommand_from help' -a 'keygen id rendezvous listen connect netcheck'
