// sovctl: the command-line client of the Sovereign gateway. Everything but the process entry
// point lives in sov_cli_lib (cli/commands.h).
#include <iostream>

#include "cli/commands.h"
#include "common/allocator.h"

int main(int argc, char** argv) {
  sov::TuneAllocatorForStreaming();
  return sov::cli::RunSovctl(argc, argv, std::cout, std::cerr);
}
