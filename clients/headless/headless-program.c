/*
 * headless-program.c: crp-headless's main(). The program itself is
 * hl_main() in the crp-headless-core library, which crp-client --headless
 * runs as well.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"

int main(int argc, char **argv)
{
    return hl_main(argc, argv);
}
