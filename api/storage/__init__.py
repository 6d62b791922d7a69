"""Durable state of the service: shuttle bookings, their history and dispatcher state."""

from api.storage.bookings import Booking, BookingEvent, BookingStore

__all__ = ["Booking", "BookingEvent", "BookingStore"]
