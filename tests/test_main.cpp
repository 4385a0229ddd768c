// The one doctest binary: every file under tests/unit and tests/sim links in here.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
