// A list whose elements outlive clear(): a reader that fills one per line gets back the
// strings and vectors it filled for the previous line, capacity included, instead of
// allocating them again (std::vector::clear() destroys them).
#pragma once

#include <cstddef>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace rstwatch::detail {

template <class T>
class reuse_list {
 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  // The next element: one kept from before clear(), holding what it held then (the caller
  // sets every member it uses), or a new default one. Growing may move the elements:
  // pointers into the list last until the next add().
  T& add() {
    if (n_ == items_.size()) items_.emplace_back();
    return items_[n_++];
  }
  void clear() noexcept { n_ = 0; }

  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  T& operator[](std::size_t i) noexcept { return items_[i]; }
  const T& operator[](std::size_t i) const noexcept { return items_[i]; }
  const T& at(std::size_t i) const {
    if (i >= n_) throw std::out_of_range("rstwatch::detail::reuse_list: index out of range");
    return items_[i];
  }
  T& front() noexcept { return items_[0]; }
  const T& front() const noexcept { return items_[0]; }
  T& back() noexcept { return items_[n_ - 1]; }
  const T& back() const noexcept { return items_[n_ - 1]; }

  T* begin() noexcept { return items_.data(); }
  T* end() noexcept { return items_.data() + n_; }
  const T* begin() const noexcept { return items_.data(); }
  const T* end() const noexcept { return items_.data() + n_; }
  std::reverse_iterator<T*> rbegin() noexcept { return std::reverse_iterator<T*>(end()); }
  std::reverse_iterator<T*> rend() noexcept { return std::reverse_iterator<T*>(begin()); }

 private:
  std::vector<T> items_;
  std::size_t n_ = 0;
};

}  // namespace rstwatch::detail
