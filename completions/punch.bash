# bash completion for punch(1). Install as
# /usr/share/bash-completion/completions/punch, or source it from ~/.bashrc.
# tests/unit/cli/docs_agree_test.cpp holds it to the options in src/cli/spec.cpp:
# keep one "COMMAND)" branch per command listing that command's own options.

_punch() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=${COMP_WORDS[COMP_CWORD-1]}
  local commands="keygen id rendezvous listen connect netcheck help"
  local common="-k --key --events -v --verbose -q --quiet -h --help"

  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "$commands -h --help --version" -- "$cur"))
    return
  fi

  # The value of an option that takes one.
  case $prev in
    -k | --key | --events | --socks-user-file)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      return
      ;;
    -r | --rendezvous | -l | --listen | --probe-port | --probe-address | --probe | --allow | --permit-open | -L | --local | -R | --remote | -D | --dynamic | --socks-user)
      return # a host or an ID: nothing to guess
      ;;
    --birthday-sockets | --birthday-rate | --birthday-probes)
      return # a number
      ;;
    --idle-timeout)
      COMPREPLY=($(compgen -W "off 30s 5m 1h" -- "$cur"))
      return
      ;;
  esac

  local opts
  case ${COMP_WORDS[1]} in
    keygen) opts="--force" ;;
    id) opts="" ;;
    rendezvous) opts="-l --listen --probe-port --probe-address" ;;
    listen) opts="-r --rendezvous --allow --allow-any -N --no-stdio --permit-open --gateway-ports --idle-timeout --relay-only --birthday-sockets --birthday-rate --birthday-probes" ;;
    connect) opts="-r --rendezvous -L --local -R --remote -D --dynamic -N --no-stdio --socks-user --socks-user-file --idle-timeout --relay-only --birthday-sockets --birthday-rate --birthday-probes" ;;
    netcheck) opts="-r --rendezvous --probe --json" ;;
    help)
      [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "${commands% help}" -- "$cur"))
      return
      ;;
    *) return ;;
  esac
  COMPREPLY=($(compgen -W "$opts $common" -- "$cur"))
}

complete -F _punch punch
