// A momentary push button: press() drives its line active, and the button
// lets go by itself once it has been held for the given time, as a finger
// would. The time is host time, which is also the guest's (base/clock.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "base/result.h"
#include "base/state.h"

namespace vessel::devices {

class PushButton {
 public:
  using Line = std::function<void(bool active)>;

  // `line` is called from press() (active) and from the button's own thread
  // (inactive), with the button's lock held: it must not call back into the
  // button.
  PushButton(Line line, std::chrono::milliseconds hold);
  ~PushButton();
  PushButton(const PushButton&) = delete;
  PushButton& operator=(const PushButton&) = delete;

  // Thread-safe. A press while the button is still held holds it longer
  // (until `hold` after this press): the guest sees one press.
  void press();
  bool pressed() const;

  // A button held at save time is held again for a full `hold` on load, so
  // the guest sees it released in either case.
  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  void release_thread();

  Line line_;
  const std::chrono::milliseconds hold_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool pressed_ = false;
  std::chrono::steady_clock::time_point release_at_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after every field above is initialised
};

}  // namespace vessel::devices
