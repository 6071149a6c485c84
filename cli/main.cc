// sovctl: the command-line client of the Sovereign gateway. Everything but the process entry
// point lives in sov_cli_lib (cli/commands.h).
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  return sov::cli::RunSovctl(argc, argv, std::cout, std::cerr);
}
