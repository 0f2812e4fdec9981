/*
** scaffold.h -- `lunet new NAME`: a contract and its spec from the
** templates lunet ships (templates/contract.lua, templates/contract_spec.lua,
** found as paths.h says), written to contracts/NAME.lua and
** contracts/NAME_spec.lua in the working directory. The spec passes
** `lunet test` as written. Returns the exit code: 0, 1 failed (a file is
** there already: nothing is written), 2 usage.
*/
#ifndef LN_SCAFFOLD_H
#define LN_SCAFFOLD_H

int ln_cmd_new(int argc, char **argv);

#endif
