# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_palisade_global_optspecs
    string join \n h/help V/version
end

function __fish_palisade_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_palisade_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_palisade_using_subcommand
    set -l cmd (__fish_palisade_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c palisade -n "__fish_palisade_needs_command" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_needs_command" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "serve" -d 'Run the milter daemon'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "check" -d 'Score messages as the daemon would, without Postfix (like `spamassassin -t`)'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "config" -d 'Validate or print the configuration'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "quarantine" -d 'Review, release or delete what Palisade held in Postfix\'s hold queue'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "bench" -d 'Load-test a milter (Palisade or any other) the way Postfix talks to it'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "user" -d 'Manage the accounts of the quarantine review UI'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "audit" -d 'Check the quarantine audit log'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "campaign" -d 'Campaigns: copies of one template counted across recipients and hosts'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "generate-assets" -d 'Write the man pages and shell completions into DIR (for packaging)'
complete -c palisade -n "__fish_palisade_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand serve" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand serve" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand serve" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand check" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand check" -l client-ip -d 'The SMTP client\'s address to assume' -r
complete -c palisade -n "__fish_palisade_using_subcommand check" -l helo -d 'The HELO name to assume' -r
complete -c palisade -n "__fish_palisade_using_subcommand check" -l mail-from -d 'The envelope sender to assume' -r
complete -c palisade -n "__fish_palisade_using_subcommand check" -l rcpt -d 'Envelope recipients to assume' -r
complete -c palisade -n "__fish_palisade_using_subcommand check" -l json -d 'One JSON object per message on stdout'
complete -c palisade -n "__fish_palisade_using_subcommand check" -l offline -d 'Skip DNS: authentication results are `none`'
complete -c palisade -n "__fish_palisade_using_subcommand check" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand check" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "check" -d 'Check the configuration and report every error at once'
complete -c palisade -n "__fish_palisade_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "show" -d 'Print the configuration in force (defaults, file and environment merged)'
complete -c palisade -n "__fish_palisade_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from check" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from show" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check the configuration and report every error at once'
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the configuration in force (defaults, file and environment merged)'
complete -c palisade -n "__fish_palisade_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "list" -d 'List the messages Palisade held'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "show" -d 'Show one held message: the verdict, then the message'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "release" -d 'Release a held message to delivery now (postsuper -H, then postqueue -i), or a copy to some recipients (--to)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "delete" -d 'Delete a held message (postsuper -d), unless it is under legal hold'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "report" -d 'Mark a held message as reported (to the police, an election authority, …)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "hold" -d 'Place (or with --off lift) a legal hold: the message cannot be deleted'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "helper" -d 'Run the queue helper: the privileged side that lets an unprivileged daemon\'s review UI read, release and delete what Palisade held (see docs/quarantine.md)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "export" -d 'Write the evidence bundle (tar: message, SHA-256, verdict, audit trail, ARF report)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and not __fish_seen_subcommand_from list show release delete report hold helper export help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from list" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from list" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from list" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from show" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from show" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from show" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from release" -l to -d 'Release only to this recipient (repeatable); the message stays held for the rest' -r
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from release" -l reason -d 'Why (kept in the audit log)' -r
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from release" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from release" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from release" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from release" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from release" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from delete" -l reason -d 'Why (kept in the audit log)' -r
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from delete" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from delete" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from delete" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from report" -l reason -d 'To whom, case number (kept in the audit log)' -r
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from report" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from report" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from report" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from report" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from report" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from hold" -l reason -d 'Why (kept in the audit log)' -r
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from hold" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from hold" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from hold" -l off -d 'Lift the hold instead'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from hold" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from hold" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from hold" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from helper" -l socket -d 'Socket to listen on' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from helper" -l group -d 'Group that may connect (the daemon\'s)' -r
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from helper" -l holds -d 'Where the helper records queued copies of threatening campaigns it put on hold (a directory the helper may write; default: campaign-holds.json in [state] dir)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from helper" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from helper" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from helper" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from helper" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from helper" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from export" -s o -l output -d 'Output file (default: palisade-ID.tar in the current directory; - = stdout)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from export" -l postfix-config -d 'Postfix configuration directory of a non-default instance (passed as `-c`); overrides `[quarantine] postfix_config`' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from export" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from export" -l json -d 'Print JSON for scripts'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from export" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the messages Palisade held'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one held message: the verdict, then the message'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "release" -d 'Release a held message to delivery now (postsuper -H, then postqueue -i), or a copy to some recipients (--to)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a held message (postsuper -d), unless it is under legal hold'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "report" -d 'Mark a held message as reported (to the police, an election authority, …)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "hold" -d 'Place (or with --off lift) a legal hold: the message cannot be deleted'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "helper" -d 'Run the queue helper: the privileged side that lets an unprivileged daemon\'s review UI read, release and delete what Palisade held (see docs/quarantine.md)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "export" -d 'Write the evidence bundle (tar: message, SHA-256, verdict, audit trail, ARF report)'
complete -c palisade -n "__fish_palisade_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand bench" -l target -d 'The milter to load: inet:HOST:PORT, inet6:[ADDR]:PORT or unix:PATH' -r
complete -c palisade -n "__fish_palisade_using_subcommand bench" -l connections -d 'Concurrent milter connections' -r
complete -c palisade -n "__fish_palisade_using_subcommand bench" -l messages -d 'Messages to send in total (the inputs are reused round-robin)' -r
complete -c palisade -n "__fish_palisade_using_subcommand bench" -l json -d 'Print one JSON object instead of text'
complete -c palisade -n "__fish_palisade_using_subcommand bench" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand bench" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand user; and not __fish_seen_subcommand_from add list remove help" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand user; and not __fish_seen_subcommand_from add list remove help" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand user; and not __fish_seen_subcommand_from add list remove help" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand user; and not __fish_seen_subcommand_from add list remove help" -f -a "add" -d 'Add a user, or change an existing user\'s role and password'
complete -c palisade -n "__fish_palisade_using_subcommand user; and not __fish_seen_subcommand_from add list remove help" -f -a "list" -d 'List users'
complete -c palisade -n "__fish_palisade_using_subcommand user; and not __fish_seen_subcommand_from add list remove help" -f -a "remove" -d 'Remove a user (their sessions end at once)'
complete -c palisade -n "__fish_palisade_using_subcommand user; and not __fish_seen_subcommand_from add list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from add" -l role -d 'admin (manages users), reviewer (releases, deletes, reports) or auditor (reads)' -r -f -a "admin\t''
reviewer\t''
auditor\t''"
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from add" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from add" -l password-stdin -d 'Read the password from standard input (one line)'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from list" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from remove" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a user, or change an existing user\'s role and password'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "list" -d 'List users'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a user (their sessions end at once)'
complete -c palisade -n "__fish_palisade_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -f -a "verify" -d 'Check the hash chain of the audit log: exit 0 when intact, 1 when any entry was changed or removed'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and __fish_seen_subcommand_from verify" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand audit; and __fish_seen_subcommand_from verify" -l json -d 'Print JSON'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the hash chain of the audit log: exit 0 when intact, 1 when any entry was changed or removed'
complete -c palisade -n "__fish_palisade_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and not __fish_seen_subcommand_from list show help" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and not __fish_seen_subcommand_from list show help" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'Campaigns within the window, most recently seen first'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'One campaign and its copies: when, on which host, the queue id, what was done and (with the campaign key) the recipients, so the people who got it can be warned'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from list" -l min-recipients -d 'Only campaigns with at least this many distinct recipients' -r
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from list" -l limit -d 'At most this many' -r
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from list" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (one array)'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from list" -l threats -d 'Only campaigns some copy of which carried threat symbols'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from show" -s c -l config -d 'Configuration file (default: $PALISADE_CONFIG, else the embedded defaults)' -r -F
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from show" -l json -d 'Print JSON'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from help" -f -a "list" -d 'Campaigns within the window, most recently seen first'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from help" -f -a "show" -d 'One campaign and its copies: when, on which host, the queue id, what was done and (with the campaign key) the recipients, so the people who got it can be warned'
complete -c palisade -n "__fish_palisade_using_subcommand campaign; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand generate-assets" -s h -l help -d 'Print help'
complete -c palisade -n "__fish_palisade_using_subcommand generate-assets" -s V -l version -d 'Print version'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "serve" -d 'Run the milter daemon'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "check" -d 'Score messages as the daemon would, without Postfix (like `spamassassin -t`)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "config" -d 'Validate or print the configuration'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "quarantine" -d 'Review, release or delete what Palisade held in Postfix\'s hold queue'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "bench" -d 'Load-test a milter (Palisade or any other) the way Postfix talks to it'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "user" -d 'Manage the accounts of the quarantine review UI'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "audit" -d 'Check the quarantine audit log'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "campaign" -d 'Campaigns: copies of one template counted across recipients and hosts'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "generate-assets" -d 'Write the man pages and shell completions into DIR (for packaging)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and not __fish_seen_subcommand_from serve check config quarantine bench user audit campaign generate-assets help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Check the configuration and report every error at once'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the configuration in force (defaults, file and environment merged)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from quarantine" -f -a "list" -d 'List the messages Palisade held'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from quarantine" -f -a "show" -d 'Show one held message: the verdict, then the message'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from quarantine" -f -a "release" -d 'Release a held message to delivery now (postsuper -H, then postqueue -i), or a copy to some recipients (--to)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from quarantine" -f -a "delete" -d 'Delete a held message (postsuper -d), unless it is under legal hold'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from quarantine" -f -a "report" -d 'Mark a held message as reported (to the police, an election authority, …)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from quarantine" -f -a "hold" -d 'Place (or with --off lift) a legal hold: the message cannot be deleted'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from quarantine" -f -a "helper" -d 'Run the queue helper: the privileged side that lets an unprivileged daemon\'s review UI read, release and delete what Palisade held (see docs/quarantine.md)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from quarantine" -f -a "export" -d 'Write the evidence bundle (tar: message, SHA-256, verdict, audit trail, ARF report)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "add" -d 'Add a user, or change an existing user\'s role and password'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "list" -d 'List users'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "remove" -d 'Remove a user (their sessions end at once)'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check the hash chain of the audit log: exit 0 when intact, 1 when any entry was changed or removed'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from campaign" -f -a "list" -d 'Campaigns within the window, most recently seen first'
complete -c palisade -n "__fish_palisade_using_subcommand help; and __fish_seen_subcommand_from campaign" -f -a "show" -d 'One campaign and its copies: when, on which host, the queue id, what was done and (with the campaign key) the recipients, so the people who got it can be warned'
