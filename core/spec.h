/*
** spec.h -- `lunet test [PATH...]`: busted specs against the real sandbox.
** Returns the process exit code: 0 when every spec passed, 1 otherwise.
*/
#ifndef LN_SPEC_H
#define LN_SPEC_H

int ln_cmd_test(int argc, char **argv);

#endif
