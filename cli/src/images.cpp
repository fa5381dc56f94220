// `remotemedia images ls|prune`: lists node images, or removes those no container uses.
// 0 on success, 1 on failure (message on stderr), 2 on a usage error.
#include <iostream>

#include <fmt/format.h>

#include "command.hpp"
#include "docker/container_manager.hpp"
#include "docker/image_builder.hpp"

namespace rm::cli {
namespace {

using namespace docker;

int cmd_images(const std::vector<std::string>& args) {
  if (args.size() != 1 || (args[0] != "ls" && args[0] != "prune")) {
    std::cerr << "usage: remotemedia images ls|prune\n";
    return 2;
  }
  auto c = DockerClient::connect_from_env();
  if (!c) {
    std::cerr << c.error().message << "\n";
    return 1;
  }
  if (args[0] == "ls") {
    auto l = list_node_images(*c);
    if (!l) {
      std::cerr << l.error().message << "\n";
      return 1;
    }
    std::cout << fmt::format("{:<36} {:<20} {:>10}  {}\n", "TAG", "ID", "SIZE MB", "CREATED");
    for (const auto& i : *l)
      std::cout << fmt::format("{:<36} {:<20} {:>10.1f}  {}\n", i.tags.empty() ? "<none>" : i.tags.front(),
                               i.id.substr(0, 19), static_cast<double>(i.size) / 1e6, i.created);
    return 0;
  }
  auto p = prune_node_images(*c);
  if (!p) {
    std::cerr << p.error().message << "\n";
    return 1;
  }
  for (const auto& t : p->removed) std::cout << "removed " << t << "\n";
  for (const auto& t : p->in_use) std::cout << "kept (in use) " << t << "\n";
  std::cout << fmt::format("{} removed, {} in use\n", p->removed.size(), p->in_use.size());
  return 0;
}

}  // namespace

Command images_command() {
  return raw_args_command("images", "Node images: `images ls` lists them, `images prune` removes unused ones",
                          cmd_images);
}

}  // namespace rm::cli
