// The verbs of `vessel img`, one entry point each; `args` follows the verb.
#pragma once

#include <span>
#include <string_view>

namespace vessel::cli::img {

int create_verb(std::span<const std::string_view> args);    // img_create.cc
int info_verb(std::span<const std::string_view> args);      // img_info.cc
int convert_verb(std::span<const std::string_view> args);   // img_convert.cc
int check_verb(std::span<const std::string_view> args);     // img_check.cc
int map_verb(std::span<const std::string_view> args);       // img_map.cc
int compare_verb(std::span<const std::string_view> args);   // img_compare.cc
int resize_verb(std::span<const std::string_view> args);    // img_resize.cc
int measure_verb(std::span<const std::string_view> args);   // img_measure.cc
int amend_verb(std::span<const std::string_view> args);     // img_amend.cc
int commit_verb(std::span<const std::string_view> args);    // img_commit.cc
int rebase_verb(std::span<const std::string_view> args);    // img_rebase.cc
int snapshot_verb(std::span<const std::string_view> args);  // img_snapshot.cc
int bench_verb(std::span<const std::string_view> args);     // img_bench.cc
int dd_verb(std::span<const std::string_view> args);        // img_dd.cc
int bitmap_verb(std::span<const std::string_view> args);    // img_bitmap.cc

}  // namespace vessel::cli::img
