#include "devices/push_button.h"

#include <utility>

namespace vessel::devices {
namespace {

constexpr uint32_t kStateVersion = 1;

}  // namespace

PushButton::PushButton(Line line, std::chrono::milliseconds hold)
    : line_(std::move(line)), hold_(hold) {
  thread_ = std::thread([this] { release_thread(); });
}

PushButton::~PushButton() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void PushButton::press() {
  {
    std::lock_guard lock(mutex_);
    release_at_ = std::chrono::steady_clock::now() + hold_;
    if (!pressed_) {
      pressed_ = true;
      if (line_) line_(true);
    }
  }
  wake_.notify_all();
}

bool PushButton::pressed() const {
  std::lock_guard lock(mutex_);
  return pressed_;
}

void PushButton::release_thread() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!pressed_) {
      wake_.wait(lock);
    } else if (std::chrono::steady_clock::now() >= release_at_) {
      pressed_ = false;
      if (line_) line_(false);
    } else {
      wake_.wait_until(lock, release_at_);
    }
  }
}

void PushButton::save(StateWriter& out) const {
  std::lock_guard lock(mutex_);
  out.begin_section("push-button", kStateVersion);
  out.boolean(pressed_);
  out.end_section();
}

Result<void> PushButton::load(StateReader& in) {
  TRY(in.begin_section("push-button", kStateVersion));
  const bool pressed = in.boolean();
  TRY(in.end_section());
  {
    std::lock_guard lock(mutex_);
    pressed_ = pressed;
    release_at_ = std::chrono::steady_clock::now() + hold_;
    if (line_) line_(pressed);
  }
  wake_.notify_all();
  return Ok();
}

}  // namespace vessel::devices
